# shellcheck shell=bash
# Builds the static binaries the lab runs: the kernel test crate's test executables and the
# `pfkey` CLI. Sourced by tests/lab/vm.
#
# The binaries are static and not position-independent (relocation-model=static): a static-pie
# binary relocates itself at start-up, writing to pages all over the image, which under QEMU's
# TCG costs ~30 ms per process (a `pfkey add` took 2.5x as long as an `ip xfrm state add`; with
# a fixed-address image it takes less). Natively both start in about 1.3 ms.
#
# With --target, RUSTFLAGS apply to the target artifacts only (not to build scripts and proc
# macros), and the separate target dir keeps host builds from being invalidated.

# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LAB_KERNEL_TESTS_PACKAGE="pfkey-kernel-tests"

# Runs cargo for the lab's static target. Arguments are passed to cargo.
lab_cargo() {
    (
        cd "$REPO_ROOT" || exit 1
        CARGO_TARGET_DIR="$LAB_TARGET" \
            RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
            CARGO_PROFILE_RELEASE_DEBUG=false \
            CARGO_PROFILE_RELEASE_STRIP=debuginfo \
            cargo "$@" --release --target "$LAB_TRIPLE"
    )
}

# Builds everything; writes the test executables' paths to $LAB_OUT/tests.list and sets
# LAB_PFKEY_BIN, LAB_EXAMPLES_DIR and LAB_EXAMPLES (the example names).
lab_build() {
    mkdir -p "$LAB_OUT"
    lab_say "building static binaries (target dir $LAB_TARGET)"
    local json="$LAB_OUT/cargo-test.json"
    lab_cargo test --no-run --message-format=json-render-diagnostics -p "$LAB_KERNEL_TESTS_PACKAGE" >"$json" ||
        lab_die "building the kernel tests failed"
    # One compiler-artifact line per test executable: {"profile":{..."test":true...},"executable":"..."}.
    grep '"reason":"compiler-artifact"' "$json" | grep '"test":true' |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' >"$LAB_OUT/tests.list"
    [[ -s $LAB_OUT/tests.list ]] || lab_die "cargo built no test executable for $LAB_KERNEL_TESTS_PACKAGE"
    lab_cargo build -q -p pfkey-cli --bin pfkey || lab_die "building the pfkey CLI failed"
    LAB_PFKEY_BIN="$LAB_TARGET/$LAB_TRIPLE/release/pfkey"
    [[ -x $LAB_PFKEY_BIN ]] || lab_die "no pfkey binary at $LAB_PFKEY_BIN"
    # The library's examples (pfkey/examples/*.rs), which the per-socket policy tests run.
    lab_cargo build -q -p pfkey --examples || lab_die "building the pfkey examples failed"
    LAB_EXAMPLES_DIR="$LAB_TARGET/$LAB_TRIPLE/release/examples"
    LAB_EXAMPLES=()
    local ex
    for ex in "$REPO_ROOT"/pfkey/examples/*.rs; do
        ex="$(basename "$ex" .rs)"
        [[ -x $LAB_EXAMPLES_DIR/$ex ]] || lab_die "no example binary at $LAB_EXAMPLES_DIR/$ex"
        LAB_EXAMPLES+=("$ex")
    done
    lab_cargo build -q -p pfkey-bench --bin pfkey-bench || lab_die "building pfkey-bench failed"
    LAB_BENCH_BIN="$LAB_TARGET/$LAB_TRIPLE/release/pfkey-bench"
}
