"""IA32_TSC_AUX and PKRU per vCPU (docs/guest-abi.md): two VMs of two vCPUs each on one
physical CPU, every vCPU with its own TSC_AUX (RDTSCP, RDPID where offered) and PKRU (where
PKU is offered) checked after many exits and slices shared with the other three. QEMU runs
`-cpu EPYC,+pku` (TCG emulates PKU; RDPID it does not), so PKRU is switched there; Bochs's
corei7_skylake_x has RDTSCP but neither PKU nor RDPID."""

from harness import Case

ISOS = {
    "build/test/tsc-aux-pkru.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/tests/tsc-aux-pkru.bin:vm name=aux-a cpus=2 sched=shared pin=0,0",
        "build/guests/tests/tsc-aux-pkru.bin:vm name=aux-b cpus=2 sched=shared pin=0,0",
    ]},
    # The same with 5,000 rounds per vCPU instead of 20,000, for Bochs.
    "build/test/tsc-aux-pkru-short.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/tests/tsc-aux-pkru-short.bin:vm name=aux-a cpus=2 sched=shared pin=0,0",
        "build/guests/tests/tsc-aux-pkru-short.bin:vm name=aux-b cpus=2 sched=shared pin=0,0",
    ]},
}


def expect(pku, rdpid):
    flags = r", pku %s, rdpid %s" % (pku, rdpid)
    return [r"^\[aux-[ab]\] PASS tsc-aux-pkru", r"summary: vm aux-[ab]: stopped by the guest"], {
        r"^\[aux-[ab]\] vcpu [01]: tsc-aux ok" + flags + "$": 4,
        r"^\[aux-[ab]\] PASS tsc-aux-pkru": 2,
        r"summary: vm aux-[ab]: stopped by the guest, exit code 0": 2,
    }


def cases():
    qemu_expect, qemu_counts = expect("on", "off")
    bochs_expect, bochs_counts = expect("off", "off")
    return [
        Case("qemu-svm-tsc-aux-pkru-per-vcpu", "qemu", "build/test/tsc-aux-pkru.iso",
             qemu_expect, forbid=[r"FAIL"], counts=qemu_counts,
             env={"PEREGRINE_CPUS": "1", "PEREGRINE_CPU_FEATURES": ",+pku"}, timeout=60),
        Case("bochs-vmx-tsc-aux-per-vcpu", "bochs", "build/test/tsc-aux-pkru-short.iso",
             bochs_expect, forbid=[r"FAIL"], counts=bochs_counts, timeout=120),
    ]
