"""Attacks by multi-vCPU guests (guests/smp/): an INIT/SIPI storm against the VM's own second
vCPU, and a PAUSE flood on shared cores. Each runs beside a well-behaved VM that must
finish; the attacker must end in a bounded way, its end report must show what it did, and
every frame the VMs took must come back."""

import re

from harness import Case

ISOS = {
    # vCPU 0 resets vCPU 1 with INIT + SIPI 2,000 times (and hits an absent APIC ID, the
    # all-excluding-self shorthand and INIT de-assert every 8th round).
    "build/test/smp-init-sipi-storm.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/smp/init-sipi-storm.bin:vm name=storm cpus=2 apic=on",
        "build/guests/tests/real-mode.bin:vm name=well-behaved",
    ]},
    # The same with 800 rounds, for Bochs.
    "build/test/smp-init-sipi-storm-short.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/smp/init-sipi-storm-short.bin:vm name=storm cpus=2 apic=on",
        "build/guests/tests/real-mode.bin:vm name=well-behaved",
    ]},
    # Two flooding VMs, one per core of a 2-CPU machine (each flood VM's two vCPUs start as
    # siblings on one core, where PAUSE exits; a shared vCPU may still move to a core that
    # went idle: flood_pauses_exited), and the well-behaved VM on the first core beside flood-a.
    "build/test/smp-pause-flood.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/smp/pause-flood.bin:vm name=flood-a cpus=2 sched=shared pin=0,0",
        "build/guests/smp/pause-flood.bin:vm name=flood-b cpus=2 sched=shared pin=1,1",
        "build/guests/tests/real-mode.bin:vm name=well-behaved sched=shared pin=0",
    ]},
    # The same with 20,000 PAUSEs of each kind per vCPU, for Bochs.
    "build/test/smp-pause-flood-short.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/smp/pause-flood-short.bin:vm name=flood-a cpus=2 sched=shared pin=0,0",
        "build/guests/smp/pause-flood-short.bin:vm name=flood-b cpus=2 sched=shared pin=1,1",
        "build/guests/tests/real-mode.bin:vm name=well-behaved sched=shared pin=0",
    ]},
}

FORBID_COMMON = [
    r"exit storm",
    r"PEREGRINE (PANIC|EXCEPTION)",
    r"FAIL still running",
]
# A VM's end report (printed whole when its last vCPU leaves), up to the line that follows.
REPORT = r"^\[info \] vm %s: lifetime \d+ cycles[^\n]*\n(?:  [^\n]*\n)*?"
FRAMES_BACK = r"^summary: physical frames free: (\d+) before the VMs, \1 after$"

# ---- smp-init-sipi-storm*.iso ------------------------------------------------------------
def storm_expect(rounds):
    """`rounds` rounds: 3 ICR writes to vCPU 1 each, 6 more every 8th round, 3 for the last
    reset. Ignored: every 8th round's INIT and SIPI to APIC ID 7 and its de-assert."""
    eighths = (rounds + 7) // 8
    return [
        r"^\[storm\] MISBEHAVING init-sipi-storm: %d rounds of INIT\+SIPI to vCPU 1$" % rounds,
        r"^\[storm\] INFO init-sipi-storm rounds=%d icr-writes=%d vcpu1-boots=\d+ chunks=\d+$"
        % (rounds, 3 * rounds + 6 * eighths + 3),
        r"^\[storm\] DONE failures=0$",
        # The storm VM's end report: the IPIs that found no target or were de-asserts, and
        # the INIT and start-up IPIs vCPU 1 took.
        REPORT % "storm"
        + r"    ignored IPIs \(SMI, reserved modes, INIT de-assert, no target\): %d\n" % (3 * eighths)
        + r"    INIT signals taken: [1-9]\d*, start-up IPIs taken: [1-9]\d* \(ignored: \d+\)$",
        r"^summary: 2 VMs ran$",
        r"^summary: vm storm: stopped by the guest, exit code 0$",
        r"^summary: vm well-behaved: stopped by the guest, exit code 0$",
        FRAMES_BACK,
    ]


STORM_COUNTS = {
    r"^\[storm\] PASS ": 4,
    r"^\[well-behaved\] PASS ": 21,
}
STORM_FORBID = FORBID_COMMON + [r"^\[(storm|well-behaved)\] FAIL"]

# ---- smp-pause-flood*.iso ----------------------------------------------------------------
def flood_info(pauses):
    return (r"^\[flood-[ab]\] INFO pause-flood vcpu=[01] pauses=%d pause-exits=\d+ exits=\d+$"
            % (2 * pauses))


def flood_expect(pauses):
    """`pauses` PAUSEs with IF=1 and as many with IF=0 per flood vCPU."""
    return [
        r"^\[flood-a\] MISBEHAVING pause-flood: %d PAUSEs with IF=1 and as many with IF=0 "
        r"per vCPU$" % pauses,
        # The well-behaved VM finishes on its shared core while flood-a still floods it.
        r"^\[well-behaved\] DONE failures=0$",
        r"^summary: 3 VMs ran$",
        r"^summary: vm flood-a: stopped by the guest, exit code 0$",
        r"^summary: vm flood-b: stopped by the guest, exit code 0$",
        r"^summary: vm well-behaved: stopped by the guest, exit code 0$",
        FRAMES_BACK,
    ]


def flood_counts(pauses):
    return {
        flood_info(pauses): 4,
        r"^\[flood-[ab]\] PASS ": 6,
        r"^\[well-behaved\] PASS ": 21,
    }


FLOOD_PAUSE_REPORT = REPORT % "flood-[ab]" + r"    pause: [1-9]\d* exits, \d+ cycles, \d+ per exit$"


def flood_pauses_exited(pauses):
    """PAUSE exits only while a runnable sibling shares the core. A `sched=shared` vCPU may
    move to a CPU that went idle with an empty queue (one did, early, in about one run in
    three: then flood-a's siblings never shared a core and rightly took no PAUSE exit), so
    the intercept is required of at least one flood VM, seen by the guest and in its end
    report, not of flood-a in particular."""
    exited = flood_info(pauses).replace(r"pause-exits=\d+", r"pause-exits=[1-9]\d*")

    def verify(output):
        if not re.search(exited, output, re.MULTILINE):
            return "no flood vCPU saw a PAUSE exit"
        if not re.search(FLOOD_PAUSE_REPORT, output, re.MULTILINE):
            return "no flood VM's end report counts PAUSE exits"
        return None
    return verify


FLOOD_FORBID = FORBID_COMMON + [r"^\[(flood-a|flood-b|well-behaved)\] FAIL"]


def cases():
    qemu2 = {"PEREGRINE_CPUS": "2"}
    bochs2 = {"PEREGRINE_BOCHS_CPUS": "2"}
    vmx = [r"vmx: every requested VMX control is available"]
    return [
        Case("qemu-svm-smp-init-sipi-storm", "qemu", "build/test/smp-init-sipi-storm.iso",
             storm_expect(2000), forbid=STORM_FORBID, counts=STORM_COUNTS, timeout=120,
             env=qemu2),
        # Under Bochs vCPU 0 stops making progress near the storm's end (after round 768 of
        # 800, 3 runs in 3; QEMU passes): not explained yet (docs/smp.md). make test-slow.
        Case("bochs-vmx-smp-init-sipi-storm", "bochs", "build/test/smp-init-sipi-storm-short.iso",
             vmx + storm_expect(800), forbid=STORM_FORBID, counts=STORM_COUNTS, timeout=400,
             slow=True, env=bochs2),
        # One TCG thread: QEMU's multi-threaded TCG ended one run of this case early (the
        # host triple fault docs/smp.md describes, likely); 2 more runs passed.
        Case("qemu-svm-smp-pause-flood", "qemu", "build/test/smp-pause-flood.iso",
             flood_expect(50000), forbid=FLOOD_FORBID, counts=flood_counts(50000), timeout=120,
             env=dict(qemu2, PEREGRINE_TCG_SINGLE="1"), verify=flood_pauses_exited(50000)),
        Case("bochs-vmx-smp-pause-flood", "bochs", "build/test/smp-pause-flood-short.iso",
             vmx + flood_expect(20000), forbid=FLOOD_FORBID, counts=flood_counts(20000),
             timeout=300, env=bochs2, verify=flood_pauses_exited(20000)),
    ]
