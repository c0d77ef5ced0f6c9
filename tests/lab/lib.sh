# shellcheck shell=bash
# The variables below are used by the scripts that source this file.
# shellcheck disable=SC2034
# Shared paths and helpers for the pfkey kernel lab. Sourced by the other lab scripts.

LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LAB_DIR/../.." && pwd)"
LAB_CACHE="${PFKEY_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pfkey-lab}"
# Static binaries and the assembled initramfs live in their own target dir so that host builds
# are never invalidated by the lab's RUSTFLAGS.
LAB_TARGET="${PFKEY_LAB_TARGET_DIR:-$REPO_ROOT/target/lab}"
LAB_OUT="$LAB_TARGET/vm"
LAB_TRIPLE="x86_64-unknown-linux-gnu"

lab_say() { printf '[lab] %s\n' "$*" >&2; }
lab_die() {
    printf '[lab] ERROR: %s\n' "$*" >&2
    exit 1
}

# Prints a banner that is hard to miss in a long test log.
lab_banner() {
    local line='=========================================================================='
    printf '%s\n' "$line" >&2
    local l
    for l in "$@"; do printf '[lab] %s\n' "$l" >&2; done
    printf '%s\n' "$line" >&2
}

lab_is_ci() {
    case "${CI:-}" in
        true | 1 | yes) return 0 ;;
        *) return 1 ;;
    esac
}

# Exit status that means "the lab could not run here" (see lab_unavailable).
LAB_EXIT_UNAVAILABLE=77

# The lab cannot run on this machine. In CI that is a failure; locally it is a loud skip.
lab_unavailable() {
    if lab_is_ci; then
        lab_banner "KERNEL LAB CANNOT RUN (CI=true, so this fails the run):" "$@"
        exit 1
    fi
    lab_banner "KERNEL LAB SKIPPED: the kernel tests did NOT run." "$@" \
        "Fix the above, or set PFKEY_LAB=native on a host whose kernel has PF_KEY."
    exit "$LAB_EXIT_UNAVAILABLE"
}
