"""Debian's kernel with several vCPUs: its application processors wait for INIT and start-up
IPIs (VirtualMachine.holdApplicationProcessors), Linux's SMP boot starts them through the
virtual local APIC, and /init runs `parallel=N` shell workers at once (guests/linux/init).
Under QEMU the vCPUs run on four physical CPUs (-smp 4, no -icount: it cannot do SMP).
Under Bochs a 2-CPU Linux boot takes minutes, so that case is `slow` (make test-slow)."""

from harness import Case

LINUX_SMP_ISO = "build/test/linux-smp.iso"
ISOS = {
    LINUX_SMP_ISO: {"cmdline": "loglevel=info", "modules": [
        "build/linux/vmlinuz:vm name=linux kind=linux mem=256M cpus=4 -- "
        "console=ttyS0 cryptomgr.notests no_timer_check parallel=4",
        "build/linux/initramfs.cpio.gz:initrd vm=linux",
    ]},
    "build/test/linux-smp2.iso": {"cmdline": "loglevel=info", "modules": [
        "build/linux/vmlinuz:vm name=linux kind=linux mem=256M cpus=2 -- "
        "console=ttyS0 cryptomgr.notests no_timer_check parallel=2",
        "build/linux/initramfs.cpio.gz:initrd vm=linux",
    ]},
}


def expect(vcpus):
    return [r"cpus: \d online",
            r"vm linux: 256 MiB at guest-physical 0, %d vCPUs, Linux entered in 64-bit mode" % vcpus,
            r"^\[linux\] .*smpboot: Allowing %d CPUs" % vcpus,
            r"^\[linux\] .*smp: Brought up 1 node, %d CPUs" % vcpus,
            r"^\[linux\] PEREGRINE-LINUX-USERSPACE-OK$",
            r"^\[linux\] CPUS %d$" % vcpus,
            r"^\[linux\] PARALLEL workers=%d cpus-used=\d" % vcpus,
            r"summary: vm linux: powered off by the guest \(ACPI S5\)",
            r"^summary: physical frames free: (\d+) before the VMs, \1 after$"]


FORBID = [r"PEREGRINE (PANIC|EXCEPTION)", r"(?i)stuck|not responding|failed to boot|Kernel panic",
          r"could not deliver"]


def cases():
    return [
        Case("qemu-svm-linux-four-vcpus-on-four-cpus", "qemu", LINUX_SMP_ISO, expect(4),
             forbid=FORBID, counts={r"^\[linux\] WORKER \d+ cpu \d$": 4},
             env={"PEREGRINE_CPUS": "4"}, timeout=240),
        # Four vCPUs time-sharing one physical CPU: Linux's spin-waits (TSC sync, stop_machine)
        # progress only because PAUSE yields the slice on a shared core.
        Case("qemu-svm-linux-four-vcpus-on-one-cpu", "qemu", LINUX_SMP_ISO, expect(4),
             forbid=FORBID, counts={r"^\[linux\] WORKER \d+ cpu \d$": 4},
             env={"PEREGRINE_CPUS": "1"}, timeout=240),
        Case("bochs-vmx-linux-two-vcpus-on-two-cpus", "bochs", "build/test/linux-smp2.iso",
             expect(2), forbid=FORBID, counts={r"^\[linux\] WORKER \d+ cpu \d$": 2},
             env={"PEREGRINE_BOCHS_CPUS": "2"}, timeout=900, slow=True),
    ]
