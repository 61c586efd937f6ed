"""Exit traces (docs/exit-trace.md): two flat guests run with trace=N on each backend; the
traces they print when they end are extracted with scripts/extract-trace.py and replayed
through the real handlers on the host (`swift test --filter CommittedTraceTests`, with
PEREGRINE_TRACE_DIR pointing at the extracted files)."""

import os
import subprocess
import tempfile

from harness import Case, ROOT

TRACED = {"traced-pm": "protected-mode", "traced-cpuid": "cpuid-loop"}

ISOS = {
    "build/test/trace.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/tests/protected-mode.bin:vm name=traced-pm trace=3000",
        "build/guests/hardening/cpuid-loop.bin:vm name=traced-cpuid trace=1000",
    ]},
    # Bochs prints ~220 KB of the traces above in about a minute (its serial port runs at an
    # emulated 115200 baud, slower than real time): a tenth of them covers the same VT-x
    # record kinds (the protected-mode guest's first 300 exits: CPUID, port I/O, hypercall,
    # nested page faults and preemption-timer exits) in a fraction of the time. The CPUID
    # guest is cpuid-loop-short (1,000 CPUIDs, not 150,000: the rest were in no trace and
    # cost ~5.6 s of emulated time); its first 64 exits are an external interrupt, its port
    # I/O, preemption-timer exits and its loop's first CPUIDs (from about the 53rd).
    "build/test/trace-short.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/tests/protected-mode.bin:vm name=traced-pm trace=300",
        "build/guests/hardening/cpuid-loop-short.bin:vm name=traced-cpuid trace=64",
    ]},
}

EXPECT = [
    r"^PGXT BEGIN vm=traced-(pm|cpuid) format=2 records=\d+ bytes=\d+ crc32=0x[0-9a-f]{8} dropped=0",
    r"^PGXT BEGIN vm=traced-(pm|cpuid) format=2 records=\d+ bytes=\d+ crc32=0x[0-9a-f]{8} dropped=0",
    r"summary: vm traced-pm: stopped by the guest, exit code 0",
    r"summary: vm traced-cpuid: stopped by the guest, exit code 0",
]
FORBID = [r"^\[traced-(pm|cpuid)\] FAIL", r"PEREGRINE (PANIC|EXCEPTION)"]
COUNTS = {r"^PGXT END vm=traced-(pm|cpuid)$": 2}


def replay_extracted(output):
    """Extracts each VM's trace from the console and replays it on the host."""
    with tempfile.TemporaryDirectory(prefix="peregrine-traces-") as directory:
        log = os.path.join(directory, "console.log")
        with open(log, "w") as f:
            f.write(output)
        for vm in TRACED:
            result = subprocess.run(
                [os.path.join(ROOT, "scripts", "extract-trace.py"), log,
                 os.path.join(directory, vm + ".trace"), "--vm", vm],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if result.returncode != 0:
                return "extract-trace.py: " + result.stdout.decode("utf-8", "replace").strip()
        result = subprocess.run(
            ["swift", "test", "--filter", "CommittedTraceTests/testTracesInPEREGRINE_TRACE_DIRReplay"],
            cwd=ROOT, env=dict(os.environ, PEREGRINE_TRACE_DIR=directory),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        text = result.stdout.decode("utf-8", "replace")
        replayed = text.count("every record matches")
        if result.returncode != 0 or replayed != len(TRACED):
            failures = [line for line in text.splitlines() if "error" in line or "failed" in line]
            return "the extracted traces did not replay: " + " | ".join(failures[:5])
    return None


def cases():
    return [
        Case("qemu-svm-exit-trace-replays", "qemu", "build/test/trace.iso", EXPECT,
             forbid=FORBID, counts=COUNTS, verify=replay_extracted, timeout=240),
        Case("bochs-vmx-exit-trace-replays", "bochs", "build/test/trace-short.iso",
             [r"vmx: every requested VMX control is available"] + EXPECT,
             forbid=FORBID, counts=COUNTS, verify=replay_extracted, timeout=400),
    ]
