# shellcheck shell=bash
# Assembles the lab initramfs: static busybox and its applet links, /init, the kernel modules in
# dependency order, iproute2's `ip` with its shared libraries, the static test binaries and the
# `pfkey` CLI, and the command to run. Sourced by tests/lab/vm.

# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Copies a host file to the same path under the initramfs root, following symlinks.
lab_copy_host_file() {
    local root="$1" f="$2"
    mkdir -p "$root$(dirname "$f")"
    cp -L "$f" "$root$f"
}

# Copies the shared libraries a host binary links (and the dynamic loader) into the initramfs.
lab_copy_host_libs() {
    local root="$1" bin="$2" lib
    while IFS= read -r lib; do
        lab_copy_host_file "$root" "$lib"
    done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
}

# lab_initrd CMD_SCRIPT ENV_FILE: writes $LAB_OUT/initrd.cpio. Needs LAB_BUSYBOX, LAB_IP,
# LAB_MODDIR, LAB_PFKEY_BIN and $LAB_OUT/tests.list.
lab_initrd() {
    local cmd_script="$1" env_file="$2"
    local root="$LAB_OUT/root"
    rm -rf "$root"
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,root,etc,lab/tests}
    chmod 1777 "$root/tmp"

    # busybox and its applets; `ip` is left to iproute2 (busybox's lacks xfrm and netns support).
    cp "$LAB_BUSYBOX" "$root/bin/busybox"
    local applet
    while IFS= read -r applet; do
        [[ $applet == */ip || $applet == bin/busybox ]] && continue
        mkdir -p "$root/$(dirname "$applet")"
        ln -sf /bin/busybox "$root/$applet"
    done < <("$LAB_BUSYBOX" --list-full)

    # iproute2 and the shared libraries it links (including the dynamic loader).
    cp -L "$LAB_IP" "$root/usr/sbin/ip"
    lab_copy_host_libs "$root" "$LAB_IP"
    # Host tools asked for with PFKEY_LAB_TOOLS (e.g. "strace perf", to profile in the guest).
    local tool path
    for tool in ${PFKEY_LAB_TOOLS:-}; do
        path="$(command -v "$tool")" || lab_die "PFKEY_LAB_TOOLS: no '$tool' on this host"
        cp -L "$path" "$root/usr/bin/$tool"
        lab_copy_host_libs "$root" "$path"
    done
    [[ -d /etc/iproute2 ]] && cp -r /etc/iproute2 "$root/etc/"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

    # Kernel modules, dependencies first.
    local kmods="$root/lib/modules/$LAB_KVER" ko
    mkdir -p "$kmods"
    "$LAB_DIR/modules.sh" "$LAB_MODDIR" "$LAB_DIR/modules.list" >"$root/lab/modules.order" 2>"$LAB_OUT/modules.log" ||
        lab_die "resolving kernel modules failed: $(cat "$LAB_OUT/modules.log")"
    while IFS= read -r ko; do
        mkdir -p "$kmods/$(dirname "$ko")"
        cp "$LAB_MODDIR/$ko" "$kmods/$ko"
    done <"$root/lab/modules.order"
    # A compressed module (.ko.xz/.ko.zst) is unpacked so that busybox insmod can load it.
    while IFS= read -r ko; do
        case "$ko" in
            *.ko.xz) xz -d "$kmods/$ko" ;;
            *.ko.zst) zstd -q -d --rm "$kmods/$ko" ;;
            *.ko.gz) gzip -d "$kmods/$ko" ;;
        esac
    done <"$root/lab/modules.order"
    sed -i -e 's/\.ko\.\(xz\|zst\|gz\)$/.ko/' "$root/lab/modules.order"

    # Our binaries: test executables under /lab/tests (cargo's hash suffix dropped), the CLI.
    local t
    while IFS= read -r t; do
        local name
        name="$(basename "$t")"
        cp "$t" "$root/lab/tests/${name%-*}"
    done <"$LAB_OUT/tests.list"
    cp "$LAB_PFKEY_BIN" "$root/bin/pfkey"
    mkdir -p "$root/lab/examples"
    local ex
    for ex in "${LAB_EXAMPLES[@]}"; do
        cp "$LAB_EXAMPLES_DIR/$ex" "$root/lab/examples/$ex"
    done
    cp "$LAB_BENCH_BIN" "$root/bin/pfkey-bench"

    cp "$LAB_DIR/init" "$root/init"
    chmod 755 "$root/init"
    cp "$cmd_script" "$root/lab/cmd.sh"
    cp "$env_file" "$root/lab/env"

    (cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$LAB_OUT/initrd.cpio" ||
        lab_die "cpio failed"
}
