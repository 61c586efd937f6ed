#!/usr/bin/env bash
# Guest-side fuzzing (docs/guest-fuzzing.md): builds guests/hardening/instruction-fuzz.asm with
# a seed, boots it beside a well-behaved companion VM, and checks what the integration case
# qemu-svm-guest-fuzz checks: no panic or hang, a summary, the companion finished with code 0.
# Random seeds for FUZZ_SECONDS (default 300), each logged to build/fuzz/guest-fuzz.log.
#
#   fuzz-guest.sh [--seed N] [--bochs] [--iterations N] [--known-bugs] [--trace]
#                 [--strict] [--nasm-flags "-DSTRING_IO=1 ..."]
#
#   --seed N        replay one seed (decimal or 0x hex) instead of looping
#   --bochs         run every seed on Bochs (VT-x) too, after QEMU (AMD-V)
#   --iterations N  streams per phase (real, protected, long); default 1000
#   --known-bugs    -DKNOWN_BUGS=1: every *_BUG and QEMU_* switch (docs/guest-fuzzing.md)
#   --trace         -DTRACE=1: the guest prints every stream's bytes before running it
#   --strict        a fuzz VM stopped by an entry failure or an unexpected exit fails too
#   --nasm-flags F  more assemble-time switches (-DPAE_PDPTE_BUG=1, -DMMIO_EXOTIC=1, ...)
#
# Exits 0 when every run passed, 1 at the first failing one (printing the replay command).
set -uo pipefail
cd "$(dirname "$0")/.."

seed=""; bochs=0; iterations=1000; flags=(); strict=0; extra=""
while [ $# -gt 0 ]; do
  case $1 in
    --seed) seed=$2; shift ;;
    --bochs) bochs=1 ;;
    --iterations) iterations=$2; shift ;;
    --known-bugs) flags+=(-DKNOWN_BUGS=1) ;;
    --trace) flags+=(-DTRACE=1) ;;
    --strict) strict=1 ;;
    --nasm-flags) extra=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "fuzz-guest: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
# shellcheck disable=SC2206
[ -n "$extra" ] && flags+=($extra)
seconds=${FUZZ_SECONDS:-300}
out=build/fuzz
log=$out/guest-fuzz.log
mkdir -p "$out"

make -s kernel guests >/dev/null || { echo "fuzz-guest: the kernel or the guests do not build" >&2; exit 2; }

random_seed() {
  local s=0
  while [ "$s" = 0 ]; do s=$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); done
  printf '0x%08X' "$s"
}

# judge LOG EMULATOR: prints "pass|fail <why>; fuzz-vm: <outcome>", exits 0 for pass. The
# expectations are the integration case's (Tests/Integration/cases_guest_fuzz.py).
judge() {
  python3 - "$1" "$2" "$3" "$strict" <<'PY'
import re, sys
sys.path.insert(0, "Tests/Integration")
import harness, cases_guest_fuzz as g
path, emulator, code, strict = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
out = open(path, encoding="utf-8", errors="replace").read()
case = harness.Case("guest-fuzz", emulator, "", g.EXPECT, forbid=g.FORBID, counts=g.COUNTS)
ok, why = harness.judge(case, out, None if code == "timeout" else int(code))
vm = re.findall(r"^summary: vm fuzz: (.*)$", out.replace("\r", ""), re.M)
outcome = vm[-1] if vm else "no summary"
fatal = re.findall(r"^qemu: fatal: (.*)$", out, re.M)
if fatal:
    outcome += ", the emulator itself aborted: qemu: fatal: " + fatal[0]
done = re.findall(r"^\[fuzz\] FUZZ done streams=(\d+)", out, re.M)
streams = re.findall(r"^\[fuzz\] FUZZ progress n=(\d+)", out, re.M)
outcome += " (streams=%s%s)" % (done[-1] if done else (streams[-1] if streams else 0),
                                ", done" if done else "")
if ok and strict and re.search(r"VM entry failed|unexpected exit", outcome):
    ok, why = False, "the fuzz VM's entry failed or it made an unexpected exit"
print(("pass" if ok else "fail " + why) + "; fuzz-vm: " + outcome)
sys.exit(0 if ok else 1)
PY
}

# run_seed SEED: builds and runs one seed on QEMU (and Bochs); returns 1 on a failure.
run_seed() {
  local s=$1 bin=$out/instruction-fuzz-$1.bin iso=$out/guest-fuzz-$1.iso emu result code t0 logf
  nasm -f bin -w+all -I guests/include/ -DSEED="$s" -DITERATIONS="$iterations" "${flags[@]}" \
    -o "$bin" guests/hardening/instruction-fuzz.asm || return 2
  if [ "$(stat -c %s "$bin")" -ge $((0x6000)) ]; then
    echo "fuzz-guest: $bin is over 24 KiB: it would reach the stream buffer at 0x7000" >&2; return 2
  fi
  make -s iso ISO="$iso" CMDLINE="loglevel=info batch" \
    GUEST_MODULES="$bin:vm name=fuzz unmapped=ignore;build/guests/tests/real-mode.bin:vm name=well-behaved" \
    >/dev/null || return 2
  for emu in qemu $([ "$bochs" = 1 ] && echo bochs); do
    logf=$out/guest-fuzz-$s-$emu.log
    t0=$(date +%s)
    if [ "$emu" = qemu ]; then
      timeout -k 5 $((iterations / 10 + 60)) scripts/run-qemu.sh "$iso" > "$logf" 2>&1 < /dev/null
      code=$?
    else
      scripts/run-bochs.sh "$iso" $((iterations / 5 + 120)) "$logf.serial" > /dev/null 2>&1
      code=$?; cp "$logf.serial" "$logf"
    fi
    [ "$code" = 124 ] || [ "$code" = 137 ] && code=timeout
    result=$(judge "$logf" "$emu" "$code")
    printf '%s seed=%s emulator=%s iterations=%s flags="%s" seconds=%s %s\n' \
      "$(date -u +%FT%TZ)" "$s" "$emu" "$iterations" "${flags[*]}" $(($(date +%s) - t0)) "$result" | tee -a "$log"
    case $result in
      pass*) rm -f "$logf.serial" ;;
      *)
        echo "fuzz-guest: FAILED on $emu, log $logf"
        echo "replay: scripts/fuzz-guest.sh --seed $s --iterations $iterations${flags[*]:+ --nasm-flags \"${flags[*]}\"}$([ "$emu" = bochs ] && echo " --bochs") [--trace]"
        return 1 ;;
    esac
  done
  rm -f "$iso" "$bin"
}

if [ -n "$seed" ]; then
  run_seed "$(printf '0x%08X' "$((seed))")"
  exit $?
fi
end=$(($(date +%s) + seconds)); runs=0
echo "fuzz-guest: random seeds for ${seconds}s, $iterations streams per phase; log $log"
while [ "$(date +%s)" -lt "$end" ]; do
  run_seed "$(random_seed)"; rc=$?
  [ $rc = 0 ] || exit 1
  runs=$((runs + 1))
done
echo "fuzz-guest: $runs seeds passed"
