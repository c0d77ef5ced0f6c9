#!/usr/bin/env bash
# Kernel lab prerequisites: host tools (qemu, static busybox, cpio, iproute2) and a Debian cloud
# kernel with af_key, unpacked into the lab cache. Installs what is missing when it can (root on
# Debian/Ubuntu); otherwise says what is missing. Source it for lab_prereqs/lab_kernel, or run it
# to check (and fetch) everything and print what the lab will use.
#
# Environment:
#   PFKEY_LAB_CACHE           cache dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/pfkey-lab)
#   PFKEY_LAB_KERNEL_PACKAGE  Debian metapackage to resolve (default linux-image-cloud-amd64)
#   PFKEY_LAB_KERNEL, PFKEY_LAB_MODULES
#                             use this vmlinuz and module tree (dir with modules.dep) instead
#   PFKEY_LAB_BUSYBOX         a static busybox binary (default: busybox on PATH or /bin/busybox)

# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LAB_APT_PACKAGES=(qemu-system-x86 busybox-static cpio iproute2)
LAB_APT_UPDATED=0

lab_can_apt() {
    [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1
}

lab_apt_update() {
    if [[ $LAB_APT_UPDATED == 0 ]]; then
        lab_say "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
        LAB_APT_UPDATED=1
    fi
}

# Finds a static busybox; prints its path or nothing.
lab_find_busybox() {
    local c
    for c in "${PFKEY_LAB_BUSYBOX:-}" "$(command -v busybox 2>/dev/null || true)" /bin/busybox /usr/bin/busybox; do
        [[ -n $c && -x $c ]] || continue
        # ldd fails on a static executable; a dynamic busybox cannot run in the initramfs.
        if ! ldd "$c" >/dev/null 2>&1; then
            printf '%s\n' "$c"
            return 0
        fi
    done
}

lab_find_ip() {
    local c
    for c in /usr/sbin/ip /sbin/ip /usr/bin/ip /bin/ip; do
        [[ -x $c ]] && { printf '%s\n' "$c"; return 0; }
    done
}

# Lists the missing host tools, one per line.
lab_missing_tools() {
    local t
    for t in qemu-system-x86_64 cpio timeout ldd cargo; do
        command -v "$t" >/dev/null 2>&1 || printf '%s\n' "$t"
    done
    [[ -n $(lab_find_busybox) ]] || printf '%s\n' "busybox (static)"
    [[ -n $(lab_find_ip) ]] || printf '%s\n' "ip (iproute2)"
    if [[ -z ${PFKEY_LAB_KERNEL:-} ]]; then
        command -v apt-get >/dev/null 2>&1 || printf '%s\n' "apt-get (or set PFKEY_LAB_KERNEL and PFKEY_LAB_MODULES)"
        command -v dpkg-deb >/dev/null 2>&1 || printf '%s\n' "dpkg-deb"
    fi
}

# Ensures the host tools exist, installing them with apt-get when possible.
lab_prereqs() {
    [[ $(uname -m) == x86_64 ]] || lab_unavailable "the lab needs an x86_64 host (this is $(uname -m))"
    local missing
    missing="$(lab_missing_tools)"
    if [[ -n $missing ]] && lab_can_apt; then
        lab_say "installing lab prerequisites: ${LAB_APT_PACKAGES[*]}"
        lab_apt_update || lab_unavailable "apt-get update failed"
        local log
        log="$(mktemp)"
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${LAB_APT_PACKAGES[@]}" >"$log" 2>&1; then
            tail -n 20 "$log" >&2
            rm -f "$log"
            lab_unavailable "apt-get install ${LAB_APT_PACKAGES[*]} failed"
        fi
        rm -f "$log"
        missing="$(lab_missing_tools)"
    fi
    if [[ -n $missing ]]; then
        local why=("missing host tools: $(tr '\n' ' ' <<<"$missing")")
        if ! lab_can_apt; then
            why+=("install them (Debian/Ubuntu: apt-get install --no-install-recommends ${LAB_APT_PACKAGES[*]})")
            why+=("or rerun as root on Debian/Ubuntu so the lab installs them itself")
        fi
        lab_unavailable "${why[@]}"
    fi
    LAB_BUSYBOX="$(lab_find_busybox)"
    LAB_IP="$(lab_find_ip)"
}

# Resolves, downloads (once) and unpacks the kernel. Sets LAB_VMLINUZ, LAB_MODDIR, LAB_KVER and
# LAB_KERNEL_PACKAGE ("<package> <version>").
lab_kernel() {
    if [[ -n ${PFKEY_LAB_KERNEL:-} ]]; then
        [[ -f $PFKEY_LAB_KERNEL ]] || lab_unavailable "PFKEY_LAB_KERNEL=$PFKEY_LAB_KERNEL does not exist"
        [[ -f ${PFKEY_LAB_MODULES:-}/modules.dep ]] ||
            lab_unavailable "PFKEY_LAB_MODULES must name a module tree with modules.dep (with PFKEY_LAB_KERNEL)"
        LAB_VMLINUZ="$PFKEY_LAB_KERNEL"
        LAB_MODDIR="$PFKEY_LAB_MODULES"
        LAB_KVER="$(basename "$LAB_MODDIR")"
        # shellcheck disable=SC2034 # used by tests/lab/vm
        LAB_KERNEL_PACKAGE="custom ($PFKEY_LAB_KERNEL)"
        return 0
    fi
    local meta="${PFKEY_LAB_KERNEL_PACKAGE:-linux-image-cloud-amd64}" pkg ver
    pkg="$(lab_resolve_kernel_package "$meta")"
    if [[ -z $pkg ]] && lab_can_apt; then
        lab_apt_update || true
        pkg="$(lab_resolve_kernel_package "$meta")"
    fi
    if [[ -n $pkg ]]; then
        ver="$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2; exit }')"
    fi
    local kdir
    if [[ -n $pkg && -n $ver && $ver != "(none)" ]]; then
        kdir="$LAB_CACHE/kernel/${pkg}_${ver}"
        [[ -f $kdir/.complete ]] || lab_fetch_kernel "$pkg" "$ver" "$kdir"
    else
        # No package lists (offline, or not root): fall back to the newest cached kernel.
        kdir="$(find "$LAB_CACHE/kernel" -mindepth 2 -maxdepth 2 -name .complete -printf '%h\n' 2>/dev/null |
            sort -V | tail -n 1)"
        [[ -n $kdir ]] || lab_unavailable "cannot resolve $meta with apt-cache and no kernel is cached in $LAB_CACHE" \
            "run 'apt-get update' as root first, or set PFKEY_LAB_KERNEL and PFKEY_LAB_MODULES"
        lab_say "apt cannot resolve $meta; using the cached $(basename "$kdir")"
    fi
    LAB_VMLINUZ="$(find "$kdir/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n 1)"
    LAB_MODDIR="$(find "$kdir/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
    LAB_KVER="$(basename "$LAB_MODDIR")"
    # shellcheck disable=SC2034 # used by tests/lab/vm
    LAB_KERNEL_PACKAGE="$(basename "$kdir" | sed 's/_/ /')"
    [[ -f $LAB_VMLINUZ && -f $LAB_MODDIR/modules.dep ]] || lab_die "kernel cache $kdir is incomplete: remove it and rerun"
}

# Prints the real kernel image package behind a metapackage (or the package itself).
lab_resolve_kernel_package() {
    local meta="$1"
    case "$meta" in
        linux-image-[0-9]*) printf '%s\n' "$meta" ;;
        *) apt-cache depends "$meta" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }' ;;
    esac
}

lab_fetch_kernel() {
    local pkg="$1" ver="$2" kdir="$3"
    lab_say "downloading kernel package $pkg $ver into $LAB_CACHE"
    mkdir -p "$LAB_CACHE/kernel"
    local tmp
    tmp="$(mktemp -d "$LAB_CACHE/kernel/.fetch.XXXXXX")"
    # apt-get download writes into the current directory; _apt may not be able to enter it.
    chmod 755 "$tmp"
    if ! (cd "$tmp" && apt-get download -q "$pkg=$ver" >&2); then
        rm -rf "$tmp"
        lab_unavailable "apt-get download $pkg=$ver failed (no network to the Debian archive?)"
    fi
    mkdir "$tmp/x"
    dpkg-deb -x "$tmp"/*.deb "$tmp/x" || lab_die "dpkg-deb -x failed for $pkg"
    rm -rf "$tmp/x/usr/share" "$tmp"/*.deb
    # The package leaves modules.dep to depmod in its postinst; generate it here.
    local kver
    kver="$(basename "$(find "$tmp/x/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n 1)")"
    if [[ ! -f $tmp/x/lib/modules/$kver/modules.dep ]]; then
        "$LAB_BUSYBOX" depmod -b "$tmp/x" "$kver" || lab_die "depmod failed for $kver"
    fi
    touch "$tmp/x/.complete"
    rm -rf "$kdir"
    mv "$tmp/x" "$kdir"
    rmdir "$tmp"
    # Keep only the kernel in use.
    local old
    for old in "$LAB_CACHE"/kernel/*; do
        [[ $old == "$kdir" ]] || rm -rf "$old"
    done
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    lab_prereqs
    lab_kernel
    printf 'qemu:     %s\n' "$(command -v qemu-system-x86_64)"
    printf 'busybox:  %s\n' "$LAB_BUSYBOX"
    printf 'ip:       %s\n' "$LAB_IP"
    printf 'kernel:   %s (%s)\n' "$LAB_KVER" "$LAB_VMLINUZ"
    printf 'modules:  %s\n' "$LAB_MODDIR"
    printf 'cache:    %s\n' "$LAB_CACHE"
fi
