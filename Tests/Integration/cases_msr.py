"""MSR answers (hardening item 8): WRMSR IA32_TSC through the vCPU's TSC offset,
IA32_MISC_ENABLE, the AMD legacy performance counters, PERF_CAPABILITIES against PDCM, and
undefined MSRs still #GP, checked by a guest on the backend it runs on, next to a
well-behaved companion VM."""

from harness import Case

ISOS = {
    "build/test/msr-answers.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/hardening/msr-answers.bin:vm name=msr",
        "build/guests/tests/real-mode.bin:vm name=companion",
    ]},
}

COMMON = ["tsc-write-no-gp", "tsc-write-rdtsc-high", "tsc-write-rdtsc-close", "tsc-write-monotonic",
          "tsc-write-rdmsr", "tsc-write-lower", "tsc-write-lower-monotonic", "undefined-rdmsr-gp",
          "undefined-wrmsr-gp", "pmc0-gp", "efer-lmsle-gp", "cpuid-no-arch-perfmon", "perf-capabilities-matches-pdcm",
          "mcg-cap-with-mca", "mtrr-def-type", "misc-enable-read", "misc-enable-write-same",
          "misc-enable-fast-strings", "misc-enable-reserved-gp"]
INTEL = ["feature-control-locked", "feature-control-write-gp",
         "amd-perf-absent-on-intel"]
AMD = ["amd-perf-ctl-write", "amd-perf-read-zero", "amd-perfctr-core-hidden", "amd-perfctr-core-gp"]


def msr_case(name, emulator, checks, timeout):
    return Case(name, emulator, "build/test/msr-answers.iso",
                [r"^\[msr\] TEST msr-answers starting"]
                + [r"^\[msr\] PASS %s$" % check for check in checks]
                + [r"^\[msr\] DONE failures=0",
                   r"summary: vm msr: stopped by the guest, exit code 0",
                   r"summary: vm companion: stopped by the guest, exit code 0"],
                forbid=[r"^\[msr\] FAIL", r"^\[companion\] FAIL", r"PEREGRINE (PANIC|EXCEPTION)"],
                timeout=timeout)


def cases():
    return [
        msr_case("qemu-svm-msr-answers", "qemu", COMMON + AMD, 120),
        msr_case("bochs-vmx-msr-answers", "bochs", COMMON + INTEL, 200),
    ]
