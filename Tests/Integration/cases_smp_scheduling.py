"""Scheduling across CPUs: a `sched=shared` VM whose two vCPUs start on one core (pin=0,0)
has one moved to the idle CPU (on VT-x through the VMCLEAR handoff: the VMCS is cleared
where it last ran and loaded with new host state where it lands), and placement refusals
that name their reason while the other VMs run."""

from harness import Case

ISOS = {
    "build/test/smp-migrate.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/tests/two-vcpus.bin:vm name=smp cpus=2 sched=shared pin=0,0",
    ]},
    "build/test/smp-refused.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/tests/two-vcpus.bin:vm name=wide cpus=2 sched=pinned pin=0,7",
        "build/guests/tests/two-vcpus.bin:vm name=twice cpus=2 sched=pinned pin=1,1",
        "build/guests/tests/two-vcpus.bin:vm name=owner cpus=1 sched=pinned pin=1",
        "build/guests/tests/two-vcpus.bin:vm name=intruder cpus=1 sched=pinned pin=1",
        "build/guests/tests/real-mode.bin:vm name=well-behaved",
    ]},
}

MIGRATED = [r"vm smp: 16 MiB at guest-physical 0, 2 vCPUs", r"^\[smp\] vcpu 1 up",
            r"^\[smp\] PASS two-vcpus", r"summary: vm smp: stopped by the guest, exit code 0",
            r"^summary: physical frames free: (\d+) before the VMs, \1 after$",
            r"^summary: cpu 0: \d+ kicks received, \d+ sleeps in HLT, [1-9]\d* vCPUs moved away"]

REFUSED = [r"\(vm name=wide .*\) refused: ", r"pin= names CPU 7",
           r"\(vm name=twice .*\) refused: ", r"pin= names CPU 1 twice",
           r"\(vm name=intruder .*\) refused: ", r"CPU 1, already owned by VM owner",
           r"summary: vm well-behaved: stopped by the guest, exit code 0"]


def cases():
    return [
        Case("qemu-svm-smp-shared-vcpu-moves-to-an-idle-cpu", "qemu", "build/test/smp-migrate.iso",
             MIGRATED, forbid=[r"PEREGRINE (PANIC|EXCEPTION)", r"FAIL"], timeout=120),
        Case("bochs-vmx-smp-shared-vcpu-moves-to-an-idle-cpu", "bochs", "build/test/smp-migrate.iso",
             MIGRATED, forbid=[r"PEREGRINE (PANIC|EXCEPTION)", r"FAIL"],
             env={"PEREGRINE_BOCHS_CPUS": "2"}, timeout=300),
        Case("qemu-svm-smp-placement-refusals", "qemu", "build/test/smp-refused.iso",
             REFUSED, forbid=[r"PEREGRINE (PANIC|EXCEPTION)"], env={"PEREGRINE_CPUS": "2"},
             timeout=120),
    ]
