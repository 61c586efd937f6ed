#!/usr/bin/env bash
# `make bench-compare BASE=<git rev>`: the deterministic part of the bench on revision BASE
# and on this working tree (uncommitted changes included), and each metric's change.
# BASE is checked out as a detached git worktree in build/compare/base (the user's tree is
# not touched; the worktree stays for the next run) and built there; both sides run this
# tree's bench scripts:
#   - exit round trips per reason, AMD-V (QEMU -icount shift=0) and VT-x (Bochs, minutes;
#     BENCH_COMPARE_BACKENDS=svm skips it): emulated instructions, deterministic;
#   - the hypervisor's ELF sections and the bench VM's memory beyond its RAM.
# Prints: metric, BASE, this tree, change, change in %.
set -uo pipefail
cd "$(dirname "$0")/.."
base=${1:-}
[ -n "$base" ] || { echo "usage: make bench-compare BASE=<git rev>" >&2; exit 2; }
rev=$(git rev-parse --verify --quiet "$base^{commit}") || { echo "bench-compare: unknown revision '$base'" >&2; exit 2; }
backends=${BENCH_COMPARE_BACKENDS:-both}
root=$(pwd)
compare=$root/build/compare
tree=$compare/base
mkdir -p "$compare"
# The worktree is kept for the next comparison (its build is incremental); remove it with
# `git worktree remove --force build/compare/base`.
# (Only a worktree whose top is $tree itself: a plain directory there would be inside this one.)
if [ "$(git -C "$tree" rev-parse --show-toplevel 2>/dev/null)" = "$tree" ]; then
  git -C "$tree" checkout --quiet --force --detach "$rev" || exit 1
else
  rm -rf "$tree"; git worktree prune
  git worktree add --quiet --detach "$tree" "$rev" > /dev/null || exit 1
fi
echo "bench-compare: BASE $base ($(git rev-parse --short "$rev")) against this tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ', with uncommitted changes'))"

# $1 side name, $2 tree: its metrics, "name value" per line, into $compare/results-$1/metrics.
measure() {
  local out=$compare/results-$1
  rm -rf "$out"; mkdir -p "$out"
  echo "== $1: building and measuring ($2)"
  BENCH_TREE=$2 BENCH_OUT=$out scripts/bench/exit-costs.sh "$backends" > "$out/exit-costs.txt" 2>&1 \
    || { echo "bench-compare: the exit-cost run failed on $1 (see $out/exit-costs.txt)"; tail -5 "$out/exit-costs.txt"; return 1; }
  awk -F, 'NR > 1 {print "exit:" $1 ":" $2, $3}' "$out/exit-costs.csv" > "$out/metrics"
  scripts/bench/footprint.sh --sections "$2/build/peregrine.elf" \
    | awk '{print "hypervisor:" $1 ":bytes", $2}' >> "$out/metrics"
  for log in "$out"/exit-cost-*.log; do
    b=${log##*-}; b=${b%.log}
    tr -d '\r' < "$log" | awk -v b="$b" '$1 == "memory:" {print "vm-beyond-ram:" b ":bytes", $8 * 1024; exit}' >> "$out/metrics"
  done
}
measure base "$tree" || exit 1
measure head "$root" || exit 1

echo
printf "%-28s %12s %12s %10s %9s\n" metric BASE "this tree" change "%"
awk 'NR == FNR {base[$1] = $2; next}
  { b = base[$1]; delete base[$1]
    if (b == "") { printf "%-28s %12s %12s %10s %9s\n", $1, "-", $2, "new", "-"; next }
    pct = (b != 0) ? sprintf("%+.1f%%", 100 * ($2 - b) / b) : "-"
    printf "%-28s %12s %12s %+10d %9s\n", $1, b, $2, $2 - b, pct }
  END { for (m in base) printf "%-28s %12s %12s %10s %9s\n", m, base[m], "-", "gone", "-" }' \
  "$compare/results-base/metrics" "$compare/results-head/metrics"
