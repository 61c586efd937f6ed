"""Multi-vCPU flat guests (guests/smp/): IPI round trips, a bulk-synchronous barrier, a VM
stopped while its other vCPUs compute, a pinned VM beside a misbehaving one, gang VMs.

Until the application processors are brought up the hypervisor runs on the bootstrap CPU
alone ("cpus: 1 online", whatever -smp or Bochs's count says), and every vCPU time-shares it.
Expectations that depend on how many CPUs are online are written with `by_cpus`: one branch
for a single CPU (what can be checked today, refusals included), one for several (what must
hold once bring-up has merged). The boot log's "cpus: N online" line picks the branch, so
each case passes on either kind of kernel and checks what that kernel can do.
QEMU runs with 4 CPUs (no -icount: QEMU 7.2 refuses it with several CPUs), Bochs with 2.
"""

from harness import Case

ISOS = {
    # Each interrupt delivered exactly once, over 6,040 IPIs between two vCPUs.
    "build/test/smp-ipi-storm.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/smp/ipi-storm.bin:vm name=storm cpus=2 apic=on",
    ]},
    # Shared scheduling: runs on any number of CPUs.
    "build/test/smp.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/smp/ipi-pingpong.bin:vm name=pingpong cpus=2 apic=on",
        "build/guests/smp/barrier.bin:vm name=barrier cpus=4",
        "build/guests/smp/stop-while-running.bin:vm name=stop-running cpus=4",
        "build/guests/tests/real-mode.bin:vm name=well-behaved",
    ]},
    # A pinned VM first (it owns a CPU on any machine), a misbehaving VM that needs a CPU no
    # pinned VM owns, and a 4-vCPU pinned VM that no machine of 4 CPUs or fewer can place
    # once the first pinned VM owns one.
    "build/test/smp-pinned.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/smp/pinned-compute.bin:vm name=pinned sched=pinned",
        "build/guests/smp/noisy-neighbour.bin:vm name=noisy cpus=2 apic=on",
        "build/guests/smp/barrier.bin:vm name=pinned-barrier cpus=4 sched=pinned",
    ]},
    # The same for Bochs with less work on each side (pinned-compute 60 rounds of 100, noisy
    # 1,500): the noisy VM is stopped (~28M cycles) before the pinned work (~33M) ends.
    "build/test/smp-pinned-short.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/smp/pinned-compute-short.bin:vm name=pinned sched=pinned",
        "build/guests/smp/noisy-neighbour-short.bin:vm name=noisy cpus=2 apic=on",
        "build/guests/smp/barrier.bin:vm name=pinned-barrier cpus=4 sched=pinned",
    ]},
    # Two 4-vCPU gang VMs (4 distinct CPUs each, taking turns) and a 1-vCPU gang VM that can
    # be placed on any machine.
    "build/test/smp-gang.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/smp/barrier.bin:vm name=gang-a cpus=4 sched=gang",
        "build/guests/smp/barrier.bin:vm name=gang-b cpus=4 sched=gang",
        "build/guests/tests/real-mode.bin:vm name=gang-single sched=gang",
    ]},
}

ONE_CPU = r"^\[info \] cpus: 1 online$"
SEVERAL_CPUS = r"^\[info \] cpus: (?:[2-9]|[1-9]\d+) online$"
ANYTHING = r"[\s\S]*?"


def lookahead(line, patterns):
    """`line`, followed somewhere later by each of `patterns` in order (zero-width)."""
    if not patterns:
        return line
    return "%s(?=%s)" % (line, "".join(ANYTHING + "(?:%s)" % p for p in patterns))


def by_cpus(one, several):
    """One expectation that holds on a kernel with a single CPU online (patterns `one`, in
    order, anywhere after the boot log's cpus line) or on one with several (`several`). It
    matches the cpus line itself and looks ahead for the rest, so put it first: the next
    expectation is searched from the cpus line on."""
    return "(?:%s|%s)" % (lookahead(ONE_CPU, one), lookahead(SEVERAL_CPUS, several))


FORBID_COMMON = [
    r"exit storm",
    r"PEREGRINE (PANIC|EXCEPTION)",
    r"FAIL still running",
]

# ---- smp.iso -----------------------------------------------------------------------------
SMP_EXPECT = [
    by_cpus([], [r"^summary: cpu 1: \d+ kicks received, \d+ sleeps in HLT"]),
    r"^\[stop-running\] PASS others-computing$",
    r"^\[stop-running\] MISBEHAVING stop-while-running: vCPUs 1-3 computing",
    r"^\[warn \] vm stop-running: write to guest-physical 0xc0000000",
    r"^summary: 4 VMs ran$",
    r"^summary: vm pingpong: stopped by the guest, exit code 0$",
    r"^summary: vm barrier: stopped by the guest, exit code 0$",
    r"^summary: vm stop-running: write to guest-physical 0xc0000000",
    r"^summary: vm well-behaved: stopped by the guest, exit code 0$",
    r"^summary: cpu 0: \d+ kicks received, \d+ sleeps in HLT",
]
SMP_FORBID = FORBID_COMMON + [r"^\[(pingpong|barrier|stop-running|well-behaved)\] FAIL"]
SMP_COUNTS = {
    r"^\[pingpong\] BENCH ipi-roundtrip \d+$": 1,
    r"^\[pingpong\] BENCH ipi-roundtrip-spin \d+$": 1,
    r"^\[pingpong\] PASS ": 5,
    r"^\[barrier\] BENCH barrier iterations=30 cycles=\d+$": 1,
    r"^\[barrier\] INFO barrier vcpu=\d steady-exits=\d+$": 4,
    r"^\[barrier\] PASS ": 4,
    r"^\[stop-running\] PASS ": 2,
    r"^\[well-behaved\] PASS ": 21,
}

# ---- smp-pinned.iso ----------------------------------------------------------------------
PINNED_REFUSED = r"^\[error\]   needs 4 CPUs of its own but only \d+ are free of other VMs$"
PINNED_EXPECT = [
    by_cpus(
        # One CPU: the pinned VM owns it, so the misbehaving VM has nowhere to run.
        [r"^\[error\] guest module 2 \(vm name=noisy cpus=2 apic=on\) refused: not enough "
         r"CPUs are free of pinned VMs$",
         PINNED_REFUSED,
         r"^summary: 1 VM ran$"],
        # Several: it runs beside the pinned VM, on other CPUs, until it is stopped.
        [PINNED_REFUSED,
         r"^\[noisy\] MISBEHAVING noisy-neighbour: triple fault while vCPU 1 keeps exiting$",
         r"^summary: 2 VMs ran$",
         r"^summary: vm noisy: shutdown \(triple fault\)$"]),
    r"^summary: vm pinned: stopped by the guest, exit code 0$",
]
PINNED_COUNTS = {
    r"^\[pinned\] BENCH pinned-compute steady-exits=[0-2] cycles=\d+ checksum=0x[0-9A-F]{8}$": 1,
    r"^\[pinned\] PASS pinned-compute-steady-exits$": 1,
    r"^\[pinned\] PASS ": 2,
    r"refused: not enough CPUs are free of other VMs$": 1,
}
PINNED_FORBID = FORBID_COMMON + [r"^\[(pinned|noisy)\] FAIL", r"^summary: vm pinned-barrier"]

# ---- smp-gang.iso ------------------------------------------------------------------------
GANG_REFUSED = (r"^\[error\]   needs 4 distinct CPUs but only \d are free of pinned VMs$")
GANG_RAN = (r"^summary: 3 VMs ran$%s^summary: vm gang-a: stopped by the guest, exit code 0$%s"
            r"^summary: vm gang-b: stopped by the guest, exit code 0$" % (ANYTHING, ANYTHING))
GANG_REFUSED_TWICE = [GANG_REFUSED, GANG_REFUSED, r"^summary: 1 VM ran$"]
GANG_EXPECT = [
    # One to three CPUs: neither 4-vCPU gang VM can be placed. Four or more: both run,
    # taking turns on the same CPUs.
    "(?:%s|%s)" % (
        lookahead(r"^\[info \] cpus: [123] online$", GANG_REFUSED_TWICE),
        lookahead(r"^\[info \] cpus: (?:[4-9]|[1-9]\d+) online$", [GANG_RAN])),
    r"^summary: vm gang-single: stopped by the guest, exit code 0$",
]
GANG_FORBID = FORBID_COMMON + [r"^\[(gang-a|gang-b|gang-single)\] FAIL"]


def cases():
    qemu4 = {"PEREGRINE_CPUS": "4"}
    bochs2 = {"PEREGRINE_BOCHS_CPUS": "2"}
    vmx = [r"vmx: every requested VMX control is available"]
    return [
        # Four VMs on four CPUs: QEMU's multi-threaded TCG triple-faults the host after a
        # #VMEXIT in about a third of these runs (docs/smp.md); one TCG thread does not.
        # One TCG thread switching between four CPUs: before Peregrine offered interrupts
        # as V_IRQ, QEMU delivered some EVENTINJ interrupts twice here (docs/smp.md).
        Case("qemu-svm-smp-every-ipi-delivered-once", "qemu", "build/test/smp-ipi-storm.iso",
             [r"^\[storm\] INFO ipi-pingpong starting: N_HLT=3000 N_SPIN=20$",
              r"^\[storm\] DONE failures=0$",
              r"^summary: vm storm: stopped by the guest, exit code 0$"],
             counts={r"^\[storm\] PASS ipi-": 4},
             forbid=FORBID_COMMON + [r"^\[storm\] FAIL"], timeout=90,
             env=dict(qemu4, PEREGRINE_TCG_SINGLE="1")),
        Case("qemu-svm-smp-guests", "qemu", "build/test/smp.iso", SMP_EXPECT,
             forbid=SMP_FORBID, counts=SMP_COUNTS, timeout=90,
             env=dict(qemu4, PEREGRINE_TCG_SINGLE="1")),
        Case("bochs-vmx-smp-guests", "bochs", "build/test/smp.iso", vmx + SMP_EXPECT,
             forbid=SMP_FORBID, counts=SMP_COUNTS, timeout=150, env=bochs2),
        Case("qemu-svm-smp-pinned-beside-noisy", "qemu", "build/test/smp-pinned.iso",
             PINNED_EXPECT, forbid=PINNED_FORBID, counts=PINNED_COUNTS, timeout=90, env=qemu4),
        # With 2 CPUs the pinned VM owns one, so the noisy VM's two vCPUs share the other. Its
        # second vCPU's adoption used to arrive while CPU 1 was starting the first one's slice
        # (no kick, no slice timer for a lone vCPU): the VM never started it (docs/smp.md).
        Case("bochs-vmx-smp-pinned-beside-noisy", "bochs", "build/test/smp-pinned-short.iso",
             vmx + PINNED_EXPECT, forbid=PINNED_FORBID, counts=PINNED_COUNTS, timeout=240,
             env=bochs2),
        Case("qemu-svm-smp-gang", "qemu", "build/test/smp-gang.iso", GANG_EXPECT,
             forbid=GANG_FORBID, timeout=90, env=qemu4),
        Case("bochs-vmx-smp-gang", "bochs", "build/test/smp-gang.iso", vmx + GANG_EXPECT,
             forbid=GANG_FORBID, timeout=150, env=bochs2),
    ]
