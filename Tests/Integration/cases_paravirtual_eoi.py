"""KVM's paravirtual EOI attacked through the real exits (docs/guest-abi.md, "Paravirtual
EOI"): guests/hardening/paravirtual-eoi.asm, a flat guest with a local APIC (apic=on), checks
the KVM leaves, writes MSR 0x4B56_4D04 with hostile values (each one #GP, the MSR unchanged),
takes self-IPIs and LAPIC timer interrupts EOId through its flag (at the hypervisor's own
kernel address as guest-physical, in a canary page, moved while interrupts come, turned
off), scribbles random bytes into the flag while the timer runs, and recovers. Beside it a
well-behaved companion. On both backends; the VM's end report must count the EOIs made
through the flag and the #GPs the guest took."""

import re

from harness import Case

ISOS = {
    "build/test/paravirtual-eoi.iso": {"cmdline": "loglevel=info", "modules": [
        "build/guests/hardening/paravirtual-eoi.bin:vm name=pveoi apic=on",
        "build/guests/tests/real-mode.bin:vm name=companion",
    ]},
}

REFUSED = ["misaligned-enabled", "misaligned-disabled", "straddling-ram-end", "at-ram-end",
           "host-memory-1g", "host-memory-4g", "flag-alias-bit-32", "flag-alias-bit-52",
           "flag-alias-bit-63", "above-2-52", "local-apic-page", "local-apic-eoi-register",
           "io-apic-page", "mmio-device-page", "pci-ecam", "all-ones", "all-ones-but-bit-1",
           "canonical-high-half"]
CHECKS = (["kvm-signature-ebx", "kvm-signature-ecx", "kvm-signature-edx", "kvm-leaf-max",
           "kvm-feature-pv-eoi", "msr-zero-at-reset", "off-any-address-accepted", "enable-accepted"]
          + ["refused-" + what for what in REFUSED]
          + ["last-word-of-ram-accepted", "refused-after-last-word",
             "kernel-address-accepted", "kernel-address-self-ipi", "kernel-address-flag-set",
             "kernel-address-canary", "kernel-address-isr-empty",
             "self-ipis-arrive", "self-ipis-flag-set", "self-ipis-isr-empty",
             "move-in-handler-arrives", "move-in-handler-flag-was-set", "move-in-handler-accepted",
             "move-in-handler-old-flag-cleared", "move-in-handler-new-flag-set",
             "move-in-handler-eoi-through-new-flag", "move-in-handler-isr-empty",
             "off-in-handler-arrives", "off-in-handler-flag-was-set", "off-in-handler-accepted",
             "off-in-handler-eoi-made-by-then", "off-in-handler-flag-clear", "off-in-handler-isr-empty",
             "moved-while-interrupted-accepted", "timer-keeps-arriving", "timer-eois-through-flag",
             "timer-isr-empty", "moved-flag-left-clean", "canary-intact",
             "off-timer-arrives", "off-flag-untouched",
             "scribble-interrupts-keep-coming", "scribble-moves-accepted",
             "scribble-isr-recovered", "scribble-then-timer-arrives",
             "scribble-then-flag-eois", "scribble-then-isr-empty", "scribble-canary-intact",
             "msr-off-at-end"])

# WRMSRs that the guest expects to #GP: the refused values and the one after the last word.
GUEST_GPS = len(REFUSED) + 1



def report_block(output, vm):
    """The VM's own end report: the indented lines after its end line, up to the summary
    (which repeats the figures for all VMs together) or another VM's report; other VMs'
    console lines in between are skipped."""
    lines = output.replace("\r", "").split("\n")
    end = "[info ] vm %s: stopped by the guest, exit code 0" % vm
    for index, line in enumerate(lines):
        if line.startswith(end):
            block = []
            for following in lines[index + 1:]:
                if following.startswith("summary:") or (
                        following.startswith("[info ] vm ") and not following.startswith("[info ] vm %s:" % vm)):
                    break
                if following.startswith(" "):
                    block.append(following)
            return "\n".join(block)
    return None


def verify(output):
    text = output.replace("\r", "")
    info = re.search(r"^\[pveoi\] INFO pveoi flag-eois=(\d+) refused=(\d+)$", text, re.MULTILINE)
    if not info:
        return "the guest's INFO line is missing"
    guest_eois, guest_gps = int(info.group(1)), int(info.group(2))
    if guest_gps != GUEST_GPS:
        return "the guest took %d #GPs, expected %d" % (guest_gps, GUEST_GPS)
    block = report_block(text, "pveoi")
    if block is None:
        return "no end report for vm pveoi"
    flagged = re.search(r"^    EOIs through the paravirtual flag \(no exit\): (\d+)$", block,
                        re.MULTILINE)
    if not flagged or int(flagged.group(1)) == 0:
        return "the end report of vm pveoi counts no EOI through the paravirtual flag"
    counted = int(flagged.group(1))
    # Every EOI the guest made through the flag is counted at the next exit that reaches the
    # run loop (ParavirtualEOI.afterExit), before its handler, a WRMSR of the MSR included;
    # the count also has the scribbling's, which the guest does not count.
    if counted < guest_eois:
        return "the end report counts %d EOIs through the flag, the guest made %d" % (
            counted, guest_eois)
    # The time outside the guest (docs/exit-path.md): the exits' handlers (the exits line's
    # cycles), host interrupt handlers and the entry preparation and delivery, which every
    # entry has: more than the first two together.
    exits = re.search(r"^  exits: (\d+) in (\d+) cycles$", block, re.MULTILINE)
    outside = re.search(r"^  time outside the guest: (\d+) cycles, (\d+) per slow exit \((\d+) in"
                        r" the exits' handlers, (\d+) in host interrupt handlers", block,
                        re.MULTILINE)
    if not exits or not outside:
        return "the end report lacks the exits (%r) or the time outside the guest (%r)" % (
            exits and exits.group(0), outside and outside.group(0))
    total, per_exit, handlers, interrupts = (int(outside.group(i)) for i in range(1, 5))
    if handlers != int(exits.group(2)) or per_exit == 0 or total <= handlers + interrupts:
        return "the time outside the guest does not add up: %s / %s" % (
            outside.group(0), exits.group(0))
    refused = re.search(r"^    refused MSR accesses \(#GP injected\): (\d+), the last MSR 0x0*4b564d04$",
                        block, re.MULTILINE | re.IGNORECASE)
    if not refused or int(refused.group(1)) != guest_gps:
        return "the end report's refused MSR accesses (%s) are not the guest's %d #GPs of 0x4b564d04" % (
            refused.group(1) if refused else "none", guest_gps)
    return None


EXPECT = ([r"^\[pveoi\] TEST paravirtual-eoi starting"]
          + [r"^\[pveoi\] PASS %s$" % check for check in CHECKS]
          + [r"^\[pveoi\] INFO pveoi flag-eois=\d+ refused=\d+$",
             r"^\[pveoi\] DONE failures=0",
             r"^\[info \] vm pveoi: stopped by the guest, exit code 0",
             r"^    EOIs through the paravirtual flag \(no exit\): [1-9]\d*$",
             # The hypervisor goes on: the companion ends normally, the summary follows, and
             # the node's own end (status success) is checked by the harness.
             r"summary: 2 VMs ran",
             r"summary: vm pveoi: stopped by the guest, exit code 0",
             r"summary: vm companion: stopped by the guest, exit code 0",
             r"^summary: physical frames free: (\d+) before the VMs, \1 after$"])
FORBID = [r"^\[(pveoi|companion)\] FAIL", r"exit storm", r"PEREGRINE (PANIC|EXCEPTION)"]
COUNTS = {r"^\[pveoi\] PASS ": len(CHECKS), r"^\[companion\] DONE failures=0": 1}


def cases():
    return [
        Case("qemu-svm-paravirtual-eoi-attacks", "qemu", "build/test/paravirtual-eoi.iso", EXPECT,
             forbid=FORBID, counts=COUNTS, verify=verify, timeout=180),
        Case("bochs-vmx-paravirtual-eoi-attacks", "bochs", "build/test/paravirtual-eoi.iso",
             [r"vmx: every requested VMX control is available"] + EXPECT,
             forbid=FORBID, counts=COUNTS, verify=verify, timeout=400),
    ]
