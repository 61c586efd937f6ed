"""The integration cases: what each boot must print and how it must end."""

import re
import time

from harness import Case

# ISOs by path: the kernel command line and the guest modules (FILE:NAME) each one carries.
ISOS = {
    "build/test/boot.iso": {"cmdline": "loglevel=info"},
    "build/test/selftest-write-text.iso": {"cmdline": "selftest=write-text"},
    "build/test/selftest-execute-data.iso": {"cmdline": "selftest=execute-data"},
    "build/test/selftest-stack-overflow.iso": {"cmdline": "selftest=stack-overflow"},
    "build/test/selftest-null.iso": {"cmdline": "selftest=null"},
    "build/test/selftest-panic.iso": {"cmdline": "selftest=panic"},
    "build/test/guests.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/tests/real-mode.bin:vm name=real-mode",
        "build/guests/tests/protected-mode.bin:vm name=protected-mode",
        "build/guests/tests/long-mode.bin:vm name=long-mode",
    ]},
    "build/test/misbehaving.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/misbehaving/triple-fault.bin:vm name=triple-fault",
        "build/guests/misbehaving/wild-mmio.bin:vm name=wild-mmio",
        "build/guests/misbehaving/outside-memory.bin:vm name=outside-memory",
        "build/guests/misbehaving/exit-storm.bin:vm name=exit-storm",
        "build/guests/misbehaving/halt-forever.bin:vm name=halt-forever",
        "build/guests/tests/real-mode.bin:vm name=well-behaved",
    ]},
    "build/test/two-vcpus.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/tests/two-vcpus.bin:vm name=smp cpus=2",
    ]},
    "build/test/bad-guest-state.iso": {"cmdline": "selftest=bad-guest-state", "modules": [
        "build/guests/examples/hello.bin:vm name=broken load=0x7c00 entry=0000:7c00",
        "build/guests/examples/hello.bin:vm name=fine load=0x7c00 entry=0000:7c00",
    ]},
    "build/test/flat-guest.iso": {"cmdline": "loglevel=info", "flat": (
        "build/guests/examples/hello.bin", "load=0x7c00 entry=0000:7c00 mem=8M")},
    "build/test/linux-early.iso": {"cmdline": "loglevel=info", "modules": [
        "build/linux/vmlinuz:vm name=linux kind=linux mem=256M -- console=ttyS0 cryptomgr.notests earlyprintk=serial,ttyS0,115200",
        "build/linux/initramfs.cpio.gz:initrd vm=linux",
    ]},
    "build/test/linux-malformed.iso": {"cmdline": "loglevel=info", "modules": [
        "build/linux/vmlinuz-truncated:vm name=truncated kind=linux mem=256M",
        "build/linux/not-a-kernel:vm name=garbage kind=linux mem=64M",
        "build/guests/examples/hello.bin:vm name=hello load=0x7c00 entry=0000:7c00",
    ]},
    "build/test/bad-profiles.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/tests/real-mode.bin:vm name=bad/name",
        "build/guests/tests/real-mode.bin:vm name=huge mem=128G",
        "build/guests/tests/real-mode.bin:vm name=entry-outside entry=0000:9000",
        "build/guests/tests/real-mode.bin:vm name=typo memory=16M",
        "build/guests/tests/real-mode.bin:vm name=twice mem=16M mem=32M",
        "build/guests/tests/real-mode.bin:vm name=fine",
    ]},
}

# The three built-in test guests and how many checks each must pass (their own count).
GUEST_SUITES = {"real-mode": 21, "protected-mode": 28, "long-mode": 34}

BANNER = r"^Peregrine \d+\.\d+\.\d+\S* -- a Type-I hypervisor"
FOUNDATION = [
    BANNER,
    r"memory map:",
    r"usable memory: \d+ MiB",
    r"frame allocator: \d+ free frames",
    r"kernel page tables: text 0x\w+-0x\w+ RX, rodata RO, data NX, stack guard",
]


def foundation_cases():
    return [
        Case("qemu-boot-detects-svm", "qemu", "build/test/boot.iso",
             FOUNDATION + [r"cpu: vendor AuthenticAMD", r"cpu: SVM revision \d+ NPT\+ NRIPS- .*ASIDs \d+",
                           r"virtualization: AMD-V with nested paging"]),
        Case("bochs-boot-detects-vmx", "bochs", "build/test/boot.iso",
             FOUNDATION + [r"cpu: vendor GenuineIntel", r"cpu: VMX revision 0x2b EPT\+ VPID\+ unrestricted-guest\+",
                           r"virtualization: Intel VT-x with EPT"], timeout=90),
        Case("qemu-no-virtualization-refused", "qemu", "build/test/boot.iso",
             [BANNER, r"cpu: SVM not available",
              r"neither VMX with EPT nor SVM with nested paging: Peregrine cannot run guests here"],
             status="failure", qemu_args=["-cpu", "EPYC,-svm"]),
        Case("selftest-kernel-text-is-read-only", "qemu", "build/test/selftest-write-text.iso",
             [r"PEREGRINE EXCEPTION: #PF page fault \(vector 14\)", r"^  rip = 0x", r"^  cr2 = 0x",
              r"page fault: protection violation on write", r"^  r15 = 0x", r"backtrace:", r"SelfTests\.runRequested", r"kmain"],
             status="panic"),
        Case("selftest-data-is-not-executable", "qemu", "build/test/selftest-execute-data.iso",
             [r"#PF page fault", r"protection violation on instruction fetch"], status="panic"),
        Case("selftest-stack-guard-catches-overflow", "qemu", "build/test/selftest-stack-overflow.iso",
             [r"PEREGRINE EXCEPTION: #DF double fault", r"kernel stack overflow"], status="panic"),
        Case("selftest-null-pointer-faults", "qemu", "build/test/selftest-null.iso",
             [r"#PF page fault", r"cr2 = 0x0000000000000008", r"page not present on write"], status="panic"),
        Case("selftest-panic-reports", "qemu", "build/test/selftest-panic.iso",
             [r"PEREGRINE PANIC: panic requested by selftest", r"backtrace:", r"Panic|panic"], status="panic"),
    ]


# The leak check: VMs that ended, however they ended, gave back every frame they used (RAM,
# nested page tables, VMCBs/VMCSs and permission maps).
FRAMES_RETURNED = r"^summary: physical frames free: (\d+) before the VMs, \1 after$"


def guest_suite_case(name, emulator, timeout):
    # VMs finish in whatever order the scheduler and emulator give; the summary's order is
    # the profiles' order.
    expect = [r"summary: 3 VMs ran"]
    expect += [r"summary: vm %s: stopped by the guest, exit code 0" % vm for vm in GUEST_SUITES]
    counts = {r"^\[%s\] PASS " % vm: n for vm, n in GUEST_SUITES.items()}
    counts.update({r"^\[%s\] DONE failures=0" % vm: 1 for vm in GUEST_SUITES})
    return Case(name, emulator, "build/test/guests.iso",
                [BANNER] + expect + [FRAMES_RETURNED],
                forbid=[r"^\[[a-z-]+\] FAIL", r"PEREGRINE (PANIC|EXCEPTION)"], timeout=timeout,
                counts=counts)


def svm_cases():
    return shared_cases("qemu-svm", "qemu") + [
        Case("qemu-svm-entry-failure-explained", "qemu", "build/test/bad-guest-state.iso",
             [r"vm broken: VM entry failed", r"\(VMEXIT_INVALID\)", r"efer = 0x0000000000000000",
              r"summary: vm fine: stopped by the guest, exit code 0"]),
        guest_suite_case("qemu-svm-guest-suite", "qemu", 120),
        Case("qemu-svm-misbehaving-guests-stopped", "qemu", "build/test/misbehaving.iso",
             [# The flight recorder's dump of an abnormal stop (docs/smp.md, "Flight recorder"),
              # first: the VMs' stop lines come in any order, their summary lines after it.
              r"^\[flight\] vm exit-storm vcpu 0: state=\w+ cpu=-?\d+ requests=0x[0-9a-f]+ asleep=(yes|no) awake=-?\d+ posted=",
              r"^\[flight\] vm exit-storm vcpu 0: t-\d+ exit \w+ rip=0x[0-9a-f]+$",
              r"vm triple-fault: shutdown \(triple fault\)",
              r"vm wild-mmio: write to guest-physical 0xc0000000",
              r"vm outside-memory: read of guest-physical 0x2000000, outside its memory",
              r"summary: vm exit-storm: exit storm: 100000 exits in a row at one instruction without completing it",
              r"summary: vm halt-forever: halted with interrupts disabled",
              r"summary: vm well-behaved: stopped by the guest, exit code 0",
              FRAMES_RETURNED],
             forbid=[r"FAIL still running", r"^\[well-behaved\] FAIL", r"PEREGRINE (PANIC|EXCEPTION)"],
             timeout=180),
        Case("qemu-svm-bad-profiles-refused", "qemu", "build/test/bad-profiles.iso",
             [r"\(vm name=bad/name\) refused: the name must be",
              r"\(vm name=huge mem=128G\) refused: a value is out of range",
              r"\(vm name=entry-outside entry=0000:9000\) refused: the entry point lies outside",
              r"\(vm name=typo memory=16M\) refused: unknown key in the profile: memory$",
              r"\(vm name=twice mem=16M mem=32M\) refused: a key is given more than once: mem$",
              r"summary: 1 VM ran", r"summary: vm fine: stopped by the guest, exit code 0"]),
    ]


def shared_cases(prefix, emulator):
    """Cases that must give the same result on either backend."""
    return [
        Case(prefix + "-two-vcpus-in-one-vm", emulator, "build/test/two-vcpus.iso",
             [r"vm smp: 16 MiB at guest-physical 0, 2 vCPUs", r"^\[smp\] vcpu 1 up",
              r"^\[smp\] PASS two-vcpus", r"summary: vm smp: stopped by the guest, exit code 0"],
             timeout=120),
        Case(prefix + "-flat-guest", emulator, "build/test/flat-guest.iso",
             [r"vm hello: 8 MiB at guest-physical 0, 1 vCPU, image at 0x7c00, entry 0x0000:0x7c00",
              r"^\[hello\] Hello from a flat guest at 0x7c00",
              r"summary: vm hello: stopped by the guest, exit code 0"], timeout=120),
    ]


def linux_knows_the_date(output):
    """The guest's wall clock (`DATE`, from /init) came from its RTC (CMOSClock), which runs
    on the node's, read from the emulator's RTC (the host's time): within a day of the host's
    clock now. Without an RTC Linux starts in 1970."""
    found = re.search(r"^\[linux\] DATE (\d+)$", output.replace("\r", ""), re.MULTILINE)
    if not found:
        return "no DATE line from the guest"
    if abs(int(found.group(1)) - time.time()) > 86400:
        return "the guest's date is %s, the host's %d" % (found.group(1), time.time())
    return None


def linux_cases():
    """The Linux loader (issue 6, in progress): Debian's kernel is loaded by the boot
    protocol and runs its early boot in 64-bit mode; malformed bzImages are refused."""
    return [
        Case("qemu-svm-linux-reaches-userspace", "qemu", "build/test/linux-early.iso",
             [r"vm linux: 256 MiB at guest-physical 0, 1 vCPU, Linux entered in 64-bit mode",
              r"^\[linux\] \[ +0\.000000\] Linux version 6\.1\.",
              r"^\[linux\] .*Command line: console=ttyS0 cryptomgr.notests earlyprintk=serial,ttyS0,115200 tsc_early_khz=\d+",
              r"^\[linux\] .*BIOS-e820: \[mem 0x0000000000100000-0x000000000fffffff\] usable",
              r"^\[linux\] .*BIOS-e820: \[mem 0x00000000fee00000-0x00000000fee00fff\] reserved",
              # KVM's paravirtual EOI (docs/guest-abi.md): Linux finds it and uses it.
              r"^\[linux\] .*Hypervisor detected: KVM",
              r"^\[linux\] .*Run /init as init process",
              r"^\[linux\] PEREGRINE-LINUX-USERSPACE-OK$",
              r"^\[linux\] KERNEL 6\.1\.", r"^\[linux\] CPUS 1$",
              r"^\[linux\] .*reboot: Power down",
              r"^    EOIs through the paravirtual flag \(no exit\): [1-9]\d*$",
              r"summary: vm linux: powered off by the guest \(ACPI S5\)"],
             forbid=[r"PEREGRINE (PANIC|EXCEPTION)", r"Kernel panic", r"Unable to read current time from RTC"],
             verify=linux_knows_the_date, timeout=240),
        Case("bochs-vmx-linux-reaches-userspace", "bochs", "build/test/linux-early.iso",
             [r"vm linux: 256 MiB at guest-physical 0, 1 vCPU, Linux entered in 64-bit mode",
              r"^\[linux\] \[ +0\.000000\] Linux version 6\.1\.",
              r"^\[linux\] PEREGRINE-LINUX-USERSPACE-OK$",
              r"^\[linux\] .*reboot: Power down",
              r"^    EOIs through the paravirtual flag \(no exit\): [1-9]\d*$",
              r"summary: vm linux: powered off by the guest \(ACPI S5\)"],
             forbid=[r"PEREGRINE (PANIC|EXCEPTION)", r"Kernel panic", r"Unable to read current time from RTC"],
             verify=linux_knows_the_date, timeout=400, env={"PEREGRINE_BOCHS_MEMORY": "512"}),
        Case("qemu-svm-linux-malformed-bzimage-refused", "qemu", "build/test/linux-malformed.iso",
             [r"\(vm name=truncated kind=linux mem=256M\) refused: ",
              r"\(vm name=garbage kind=linux mem=64M\) refused: ",
              r"summary: 1 VM ran", r"summary: vm hello: stopped by the guest, exit code 0"]),
    ]


def vmx_cases():
    return shared_cases("bochs-vmx", "bochs") + [
        Case("bochs-vmx-entry-failure-explained", "bochs", "build/test/bad-guest-state.iso",
             [r"vm broken: VM entry failed", r"\(VM-entry failure due to invalid guest state\)",
              r"tr.ar = 0x0000000000000089", r"summary: vm fine: stopped by the guest, exit code 0"],
             timeout=120),
        guest_suite_case("bochs-vmx-guest-suite", "bochs", 200),
        Case("bochs-vmx-misbehaving-guests-stopped", "bochs", "build/test/misbehaving.iso",
             [r"vmx: every requested VMX control is available",
              r"summary: vm triple-fault: shutdown \(triple fault\)",
              r"summary: vm wild-mmio: write to guest-physical 0xc0000000",
              r"summary: vm outside-memory: read of guest-physical 0x2000000, outside its memory",
              r"summary: vm exit-storm: exit storm: 100000 exits in a row at one instruction without completing it",
              r"summary: vm halt-forever: halted with interrupts disabled",
              r"summary: vm well-behaved: stopped by the guest, exit code 0",
              FRAMES_RETURNED],
             forbid=[r"FAIL still running", r"^\[well-behaved\] FAIL", r"PEREGRINE (PANIC|EXCEPTION)"],
             timeout=300),
    ]


def kvm_cases():
    """The ISO under real nested VT-x/AMD-V (-enable-kvm -cpu host), where /dev/kvm can run
    a guest. Elsewhere the case is skipped, and says so: it is never counted as passed."""
    return [
        Case("kvm-host-guest-suite", "kvm", "build/test/guests.iso",
             [r"^\[real-mode\] DONE failures=0", r"^\[protected-mode\] DONE failures=0",
              r"^\[long-mode\] DONE failures=0", r"summary: 3 VMs ran"],
             forbid=[r"^\[[a-z-]+\] FAIL"], timeout=120,
             qemu_args=["-enable-kvm", "-cpu", "host"]),
    ]


def topic_modules():
    """Every cases_<topic>.py beside this file: each holds its own ISOS and cases()."""
    import importlib
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    names = sorted(f[:-3] for f in os.listdir(here) if f.startswith("cases_") and f.endswith(".py"))
    return [importlib.import_module(name) for name in names]


for _module in topic_modules():
    ISOS.update(_module.ISOS)


def all_cases():
    topics = [case for module in topic_modules() for case in module.cases()]
    return foundation_cases() + svm_cases() + vmx_cases() + linux_cases() + topics + kvm_cases()
