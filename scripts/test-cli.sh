#!/usr/bin/env bash
# Checks the built CLI from outside: `make cli`, then build/bin/peregrine's help, its exit
# codes, and `validate` on good and bad profiles (errors as FILE:LINE:COLUMN). Prints PASS or
# FAIL; exits non-zero on failure. Needs no node and no emulator.
set -uo pipefail
cd "$(dirname "$0")/.."
# The debug build: `swift test` has just built its modules (a release build would take minutes).
if ! make --no-print-directory cli CLI_CONFIGURATION=debug >build/cli-build.log 2>&1; then
  echo "FAIL  make cli (see build/cli-build.log)"; exit 1
fi
cli=build/bin/peregrine
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PEREGRINE_HOME=$work/home
failures=0
fail() { echo "      $1"; failures=$((failures + 1)); }
expect() {  # expect STATUS WHAT COMMAND...: runs it, output in $work/out and $work/err
  local status=$1 what=$2; shift 2
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  [ $got -eq "$status" ] || fail "$what: exit $got, expected $status ($(head -c 300 "$work/err"))"
}
contains() {  # contains FILE TEXT WHAT
  grep -qF -- "$2" "$1" || fail "$3: no '$2' in $(head -c 300 "$1")"
}

expect 0 "--help" "$cli" --help
for command in node nodes validate create list status pause unpause destroy console; do
  grep -qE "^  $command " "$work/out" || fail "--help does not list $command"
done
contains "$work/out" "65  invalid profile" "--help lists the exit codes"

printf 'kernel' >"$work/vmlinuz"
cat >"$work/good.xml" <<XML
<?xml version="1.0"?>
<profile>
  <name>good</name>
  <memory unit="MiB">64</memory>
  <kernel>vmlinuz</kernel>
</profile>
XML
expect 0 "validate a good profile" "$cli" validate "$work/good.xml" --module-line
contains "$work/out" "valid VM profile 'good'" "validate's answer"
contains "$work/out" "vm name=good mem=64M cpus=1 kind=linux" "the module line"
for profile in profiles/*.xml; do
  expect 0 "validate $profile" "$cli" validate --no-file-check "$profile"
done

cat >"$work/bad.xml" <<XML
<profile>
  <name>bad</name>
  <colour>blue</colour>
  <memory unit="MiB">64</memory>
  <kernel>vmlinuz</kernel>
  <nic1><mac>ff:ff:ff:ff:ff:ff</mac></nic1>
</profile>
XML
expect 65 "validate a profile with an unknown element and a bad MAC" "$cli" validate "$work/bad.xml"
contains "$work/err" "$work/bad.xml:3:3: error: unknown element <colour>" "the unknown element's position"
contains "$work/err" "$work/bad.xml:6:9: error: MAC address ff:ff:ff:ff:ff:ff is a multicast address" "the bad MAC's position"
expect 65 "validate --json" "$cli" validate --json "$work/bad.xml"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["valid"] is False and [e["line"] for e in d["errors"]] == [3, 6], d' "$work/out" \
  || fail "validate --json: not the errors of lines 3 and 6"
printf '<profile>\n  <name>x</name>\n  <memory>1</memry>\n</profile>\n' >"$work/broken.xml"
expect 65 "validate malformed XML" "$cli" validate "$work/broken.xml"
contains "$work/err" "$work/broken.xml:3:" "malformed XML's line"
expect 66 "validate a missing file" "$cli" validate "$work/none.xml"
cat >"$work/seed.xml" <<XML
<profile>
  <name>seed</name>
  <memory unit="MiB">64</memory>
  <kernel>vmlinuz</kernel>
  <image size="500">vmlinuz</image>
  <nic1><mac>00:02:03:04:05:06</mac></nic1>
</profile>
XML
expect 0 "validate the seed's disk and NIC" "$cli" validate "$work/seed.xml"
contains "$work/out" "1 NIC(s), disk vmlinuz (500 MiB)" "the disk and NIC in the summary"
expect 64 "a usage error" "$cli" pause
expect 78 "list without nodes" "$cli" list
contains "$work/err" "peregrine node up" "the hint without nodes"

# Fault tolerance (docs/fault-tolerance.md): traces, the simulator, the daemon without nodes.
expect 0 "ft trace generate" "$cli" ft trace generate --shape 0.7 --scale 60 --nodes 8 \
  --duration 200 --seed 3 --output "$work/trace.txt"
expect 0 "ft trace check" "$cli" ft trace check "$work/trace.txt"
contains "$work/out" "on 8 nodes" "trace check's summary"
expect 0 "ft simulate --policy all" "$cli" ft simulate --trace "$work/trace.txt" --nodes 8 \
  --job-hours 24 --vms 8 --precision 0.8 --recall 0.9 --csv "$work/results.csv"
grep -q "placeholders" "$work/err" && fail "the built-in (measured) costs were called placeholders"
printf 'placeholder\nmigration 1G 9\ndowntime 1G 1\ncheckpoint 1G 5\nrestore 1G 5\nrestart 60\n' \
  >"$work/guessed-costs.txt"
expect 0 "ft simulate with a placeholder costs file" "$cli" ft simulate --trace "$work/trace.txt" \
  --nodes 8 --job-hours 24 --vms 8 --policy rate --costs "$work/guessed-costs.txt"
contains "$work/err" "placeholders" "the placeholder-costs warning"
head -1 "$work/results.csv" | grep -qx 'policy,completed,completion_hours,work_lost_hours,migrations,failed_migrations,checkpoints,failures_hit,restarts,migration_downtime_seconds' \
  || fail "ft simulate --csv: not the documented columns"
[ "$(wc -l <"$work/results.csv")" -eq 6 ] || fail "ft simulate --csv: not one row per policy"
expect 0 "ft simulate with the committed costs" "$cli" ft simulate --trace traces/weibull-k0.7-16nodes-30d.trace \
  --nodes 16 --job-hours 48 --vms 16 --policy rate --costs traces/costs.txt --csv -
printf '0.5 node0 burst count=3\n1 node0 explode\n' >"$work/bad.trace"
expect 1 "ft simulate a malformed trace" "$cli" ft simulate --trace "$work/bad.trace" --nodes 2 --job-hours 1 --vms 2
contains "$work/err" "$work/bad.trace: line 2: unknown event kind 'explode'" "the bad trace line"
expect 64 "ft simulate an unknown policy" "$cli" ft simulate --trace "$work/trace.txt" --nodes 8 --job-hours 1 --vms 8 --policy psychic
expect 78 "ft run without nodes" "$cli" ft run --policy rate --once
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  expect 0 "ft simulate --plot" "$cli" ft simulate --trace "$work/trace.txt" --nodes 8 \
    --job-hours 24 --vms 8 --plot "$work/plot.png"
  [ -s "$work/plot.png" ] || fail "ft simulate --plot wrote no PNG"
fi

if [ $failures -eq 0 ]; then echo "PASS  peregrine CLI: help, exit codes, validate, ft"; else echo "FAIL  peregrine CLI ($failures)"; fi
[ $failures -eq 0 ]
