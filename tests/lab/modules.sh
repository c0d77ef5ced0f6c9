#!/usr/bin/env bash
# Resolves kernel module names to module files in dependency order, from the kernel's modules.dep.
# Usage: modules.sh MODULE_DIR [LIST_FILE]
# Prints one path per line, relative to MODULE_DIR, dependencies before their users; modules
# that are built in or absent are reported on stderr and skipped.
set -euo pipefail

moddir="$1"
list="${2:-$(dirname "$0")/modules.list}"
[[ -f $moddir/modules.dep ]] || { echo "modules.sh: no modules.dep in $moddir" >&2; exit 1; }

declare -A path deps builtin state
norm() { local n="${1##*/}"; n="${n%%.ko*}"; printf '%s' "${n//-/_}"; }

while IFS= read -r line; do
    file="${line%%:*}"
    name="$(norm "$file")"
    path[$name]="$file"
    deps[$name]="${line#*:}"
done <"$moddir/modules.dep"
if [[ -f $moddir/modules.builtin ]]; then
    while IFS= read -r line; do builtin[$(norm "$line")]=1; done <"$moddir/modules.builtin"
fi

# Depth-first post-order walk: every dependency is printed before the module that needs it.
visit() {
    local name="$1" d
    case "${state[$name]:-}" in
        "done") return 0 ;;
        active) echo "modules.sh: dependency cycle at $name" >&2; exit 1 ;;
    esac
    state[$name]=active
    for d in ${deps[$name]}; do visit "$(norm "$d")"; done
    state[$name]="done"
    printf '%s\n' "${path[$name]}"
}

while IFS= read -r want; do
    want="${want%%#*}"
    want="${want//[[:space:]]/}"
    [[ -n $want ]] || continue
    want="${want//-/_}"
    if [[ -n ${path[$want]:-} ]]; then
        visit "$want"
    elif [[ -n ${builtin[$want]:-} ]]; then
        echo "modules.sh: $want is built into the kernel" >&2
    else
        echo "modules.sh: $want is not in this kernel, skipped" >&2
    fi
done <"$list"
