# shellcheck shell=bash
# Boots the lab guest under QEMU (TCG: the guest crashes under KVM on these hosts), streams its
# console, and turns the markers printed by tests/lab/init into a host result. Sourced by
# tests/lab/vm.

# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Reads the console from stdin: every line goes to the log; ordinary lines are echoed with a
# "[guest] " prefix, fixture payloads are only logged.
lab_console_reader() {
    local log="$1" line
    : >"$log"
    while IFS= read -r line || [[ -n $line ]]; do
        line="${line//$'\r'/}"
        printf '%s\n' "$line" >>"$log"
        case "$line" in
            @@FIXTURE\ * | @@FIXTURE-NOTE\ *) ;;
            *) printf '[guest] %s\n' "$line" ;;
        esac
    done
}

# The guest command's exit status from the console log, or nothing if the guest never said.
lab_exit_code() {
    sed -n 's/^@@LAB-EXIT \([0-9][0-9]*\)$/\1/p' "$1" | tail -n 1
}

lab_console_tail() {
    local log="$1"
    lab_say "last ${PFKEY_LAB_TAIL:-40} console lines ($log):"
    grep -v '^@@FIXTURE' "$log" | tail -n "${PFKEY_LAB_TAIL:-40}" | sed 's/^/[tail] /' >&2
}

# lab_boot MODE: boots $LAB_OUT/initrd.cpio. MODE "batch" reads no input; "interactive" attaches
# the terminal to the guest console. Returns the guest command's exit status; 1 and a console
# tail when the guest panicked, timed out or ended without a result.
lab_boot() {
    local mode="$1" log="$LAB_OUT/console.log"
    local timeout="${PFKEY_LAB_TIMEOUT:-600}"
    # cryptomgr.notests: the crypto self-tests cost boot time under TCG, and the drbg ones fail
    # there for want of a working jitter entropy source (see FINDINGS.md).
    local qemu=(qemu-system-x86_64 -accel tcg -cpu max -m "${PFKEY_LAB_MEM:-1024}" -smp 2
        -nographic -no-reboot -net none
        -kernel "$LAB_VMLINUZ" -initrd "$LAB_OUT/initrd.cpio"
        -append "console=ttyS0 quiet panic=-1 cryptomgr.notests=1 ${PFKEY_LAB_APPEND:-}")
    lab_say "booting $LAB_KVER under qemu (TCG, timeout ${timeout}s)"
    local started=$SECONDS status
    if [[ $mode == interactive ]]; then
        timeout --foreground "$timeout" "${qemu[@]}"
        return $?
    fi
    set +e
    # The sed drops the terminal control sequences the firmware prints.
    timeout -k 10 "$timeout" "${qemu[@]}" </dev/null 2>&1 |
        sed -u -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' | lab_console_reader "$log"
    status=${PIPESTATUS[0]}
    set -e
    local code
    code="$(lab_exit_code "$log")"
    if [[ -z $code ]]; then
        if grep -q 'Kernel panic' "$log"; then
            lab_say "FAILED: the guest kernel panicked"
        elif [[ $status == 124 || $status == 137 ]]; then
            lab_say "FAILED: the guest did not finish within ${timeout}s (PFKEY_LAB_TIMEOUT)"
        else
            lab_say "FAILED: the guest stopped without a result (qemu exit status $status)"
        fi
        lab_console_tail "$log"
        return 1
    fi
    grep '^@@LAB-MODFAIL ' "$log" | sed 's/^@@LAB-MODFAIL /[lab] warning: module failed to load: /' >&2 || true
    # A kernel warning or oops is not our failure, but it must not go unnoticed.
    if grep -q -E 'Oops|BUG:|WARNING: CPU|Call Trace:' "$log"; then
        lab_banner "the guest kernel logged a warning, bug or oops (see $log):"
        grep -E 'Oops|BUG:|WARNING: CPU' "$log" | head -n 5 | sed 's/^/[lab]   /' >&2
    fi
    lab_say "guest finished in $((SECONDS - started))s with exit status $code"
    return "$code"
}

# Prints the libtest totals from the console log as one plain "lab: N passed, N failed" line.
lab_summary() {
    local log="$1"
    awk '/^test result: / {
            for (i = 1; i <= NF; i++) {
                if ($(i + 1) ~ /^passed;?$/) p += $i
                if ($(i + 1) ~ /^failed;?$/) f += $i
                if ($(i + 1) ~ /^ignored;?$/) s += $i
            }
         }
         END { printf "lab: %d passed, %d failed", p, f; if (s) printf ", %d skipped", s; printf "\n" }' "$log"
}
