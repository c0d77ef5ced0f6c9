#!/bin/sh
# pfkey's main job, shown on a real Linux af_key: add two ESP SAs, list them with pfkey and
# with `ip xfrm state` (iproute2, an independent view), flush, list again. Every command is
# printed before its output, and the results are checked: the exit status is 0 only if
# everything happened as shown.
#
#   tests/lab/vm demo          in the kernel lab (any machine, also one without PF_KEY)
#   sudo tests/lab/demo.sh     directly, on a host whose kernel has af_key
#
# Exit status: 0 all shown and checked; 1 something went wrong (said as "demo: FAILED: …");
# 69 this kernel has no PF_KEY; 77 not root.
#
# It runs in a private network namespace (unshare -n), so the host's own SAs are neither
# shown nor flushed. The pfkey binary is $PFKEY_BIN, else `pfkey` on PATH, else the
# repository's target/release or target/debug build (built with cargo if need be).
# POSIX sh: it runs under the guest's busybox sh as well as under bash or dash.
set -u

if [ "${PFKEY_DEMO_NETNS:-}" != 1 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "demo: needs root (PF_KEY needs CAP_NET_ADMIN, and the demo makes a network namespace): sudo $0" >&2
        exit 77
    fi
    PFKEY_DEMO_NETNS=1 exec unshare -n sh "$0" "$@"
fi

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
if [ -n "${PFKEY_BIN:-}" ]; then
    bin="$PFKEY_BIN"
elif command -v pfkey >/dev/null 2>&1; then
    bin="$(command -v pfkey)"
elif [ -x "$repo/target/release/pfkey" ]; then
    bin="$repo/target/release/pfkey"
elif [ -x "$repo/target/debug/pfkey" ]; then
    bin="$repo/target/debug/pfkey"
elif command -v cargo >/dev/null 2>&1; then
    echo "demo: building pfkey (cargo build --release -p pfkey-cli)" >&2
    (cd "$repo" && cargo build -q --release -p pfkey-cli) || exit 1
    bin="$repo/target/release/pfkey"
else
    echo "demo: no pfkey binary: build it (cargo build --release -p pfkey-cli) or set PFKEY_BIN" >&2
    exit 1
fi
# Resolved before the `ip` function below exists (it would find itself).
ipbin="${PFKEY_LAB_IP:-$(command -v ip || true)}"
case "$ipbin" in
/*) ;;
*)
    echo "demo: iproute2's ip is not on PATH (apt-get install iproute2)" >&2
    exit 1
    ;;
esac

# The commands as the reader types them.
pfkey() { "$bin" "$@"; }
ip() { "$ipbin" "$@"; }

failed=0
fail() {
    echo "demo: FAILED: $*"
    failed=1
}

# Prints `$ CMD`, runs it (stdout and stderr both shown), keeps its output in $out and its
# status in $rc.
show() {
    printf '\n$ %s\n' "$*"
    out="$("$@" 2>&1)"
    rc=$?
    [ -n "$out" ] && printf '%s\n' "$out"
    return 0
}

"$ipbin" link set lo up 2>/dev/null

ENC=0x00112233445566778899aabbccddeeff
AUTH=0xffeeddccbbaa99887766554433221100

show pfkey add --esp aes --auth md5 --src 192.0.2.1 --dst 192.0.2.2 --spi 0x1000 \
    --enc-key "$ENC" --auth-key "$AUTH"
if [ "$rc" = 69 ]; then
    echo "demo: this kernel has no PF_KEY; 'tests/lab/vm demo' runs the demo in a VM whose kernel has it"
    exit 69
fi
[ "$rc" = 0 ] || fail "pfkey add exited $rc"

show pfkey add --esp aes --auth hmac-sha256 --src 192.0.2.2 --dst 192.0.2.1 --spi 0x1001 \
    --enc-key random --auth-key random --mode tunnel --reqid 7 --hard-time 1h --soft-time 50m
[ "$rc" = 0 ] || fail "pfkey add (random keys) exited $rc"
case "$out" in
*"enc-key 0x"*"auth-key 0x"*) ;;
*) fail "the random keys were not printed" ;;
esac

show pfkey dump
[ "$rc" = 0 ] || fail "pfkey dump exited $rc"
case "$out" in
*"esp spi 0x00001000 (4096) 192.0.2.1 -> 192.0.2.2"*"hmac-md5, 128-bit key <hidden>"*) ;;
*) fail "pfkey dump does not show SA 0x1000 with hmac-md5" ;;
esac
case "$out" in
*"esp spi 0x00001001 (4097) 192.0.2.2 -> 192.0.2.1"*) ;;
*) fail "pfkey dump does not show SA 0x1001" ;;
esac

show ip xfrm state
[ "$rc" = 0 ] || fail "ip xfrm state exited $rc"
case "$out" in
*"spi 0x00001000"*"auth-trunc hmac(md5) $AUTH 96"*"enc cbc(aes) $ENC"*) ;;
*"spi 0x00001000"*) fail "ip xfrm state shows SA 0x1000 without the keys given" ;;
*) fail "ip xfrm state does not show SA 0x1000" ;;
esac

show pfkey flush
[ "$rc" = 0 ] && [ -z "$out" ] || fail "pfkey flush: status $rc, output '$out'"

show pfkey dump
[ "$rc" = 0 ] || fail "pfkey dump exited $rc"
[ "$out" = "pfkey: no SAs" ] || fail "the table is not empty after the flush"
[ -z "$("$ipbin" xfrm state)" ] || fail "ip xfrm state is not empty after the flush"

echo
if [ "$failed" = 0 ]; then
    echo "demo: OK: add, dump, flush on Linux $(uname -r) with $("$bin" --version)"
else
    echo "demo: FAILED (see above)"
fi
exit "$failed"
