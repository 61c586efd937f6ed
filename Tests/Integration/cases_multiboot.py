"""Multiboot guests (issue 12 item 2, docs/multiboot-guest.md): a v1 ELF32 kernel and a v2
a.out-kludge kernel of our own (guests/multiboot/) check the boot information they get
(magic, memory map, command line, a module), find the RSDP by the BIOS-area scan and (v2)
through the tags, read the PM timer the FADT names twice, read fw_cfg, and end through the
debug-exit port with 0x21: exit code 33, QEMU status 67. A third image with a bad checksum is
refused with that reason while the others run."""

from harness import Case

ISO = "build/test/multiboot.iso"
ISOS = {
    ISO: {"cmdline": "loglevel=info", "modules": [
        "build/guests/multiboot/v1-elf.bin:vm name=mbtest-v1 kind=multiboot mem=16M -- hello=world",
        "build/guests/multiboot/module.bin:module vm=mbtest-v1 mod-one",
        "build/guests/multiboot/v2-kludge.bin:vm name=mbtest-v2 kind=multiboot mem=16M -- hello=world",
        "build/guests/multiboot/module.bin:module vm=mbtest-v2 mod-one",
        "build/guests/multiboot/bad-checksum.bin:vm name=mbbad kind=multiboot mem=16M",
    ]},
}

COMMON = ["mb-magic", "mb-cr0", "mb-if-clear", "mb-cs-flat", "mb-mmap", "mb-mem-upper",
          "mb-cmdline", "mb-module-count", "mb-module-string", "mb-module-bytes", "mb-rsdp-scan"]
AFTER_SCAN = ["mb-fadt-pmtmr", "mb-pm-timer", "mb-fwcfg-signature", "mb-fwcfg-cpus",
              "mb-fwcfg-ram", "mb-rtc-hammered", "mb-rtc-sane-after"]


def checks(vm, version):
    names = COMMON + (["mb-rsdp-tag"] if version == 2 else []) + AFTER_SCAN
    return ([r"^\[%s\] TEST multiboot-v%d starting" % (vm, version)]
            + [r"^\[%s\] PASS %s$" % (vm, name) for name in names]
            + [r"^\[%s\] DONE failures=0" % vm])


def multiboot_case(name, emulator, timeout):
    return Case(
        name, emulator, ISO,
        [r"vm mbtest-v1: .*multiboot v1 kernel entered in 32-bit protected mode at 0x0*100060",
         r"vm mbtest-v2: .*multiboot2 kernel entered in 32-bit protected mode at 0x0*200058",
         r"guest module 3 \(vm name=mbbad kind=multiboot mem=16M\) refused: "
         r"the multiboot header's checksum is wrong"]
        + checks("mbtest-v1", 1),
        forbid=[r"^\[mbtest-v\d\] FAIL", r"PEREGRINE (PANIC|EXCEPTION)"],
        verify=lambda output: verify(output, "mbtest-v2", 2),
        counts={r"summary: vm mbtest-v1: stopped by the guest, exit code 33 "
                r"\(debug-exit status 67\)": 1,
                r"summary: vm mbtest-v2: stopped by the guest, exit code 33 "
                r"\(debug-exit status 67\)": 1},
        timeout=timeout)


def verify(output, vm, version):
    """The second VM's lines, in their own order (its output interleaves with the first's)."""
    import re
    position = 0
    for pattern in checks(vm, version):
        match = re.compile(pattern, re.MULTILINE).search(output, position)
        if not match:
            return "missing: %r" % pattern
        position = match.end()
    return None


def cases():
    return [
        multiboot_case("qemu-svm-multiboot-guests", "qemu", 120),
        multiboot_case("bochs-vmx-multiboot-guests", "bochs", 240),
    ]
