"""The driver behind scripts/kvm-unit-tests.sh: one run per test of x86/unittests.cfg and
column, and the table (test, bare QEMU, Peregrine AMD-V, Peregrine VT-x).

Bare QEMU runs the test as kvm-unit-tests' x86/run would with ACCEL=tcg (its devices:
pc-testdev, pci-testdev, isa-debug-exit at 0xF4; the test's -smp and extra_params). Peregrine runs it as a
multiboot guest on an ISO of its own: `vm name=T kind=multiboot mem=M cpus=N testdev=on -- ARGS`, with
M the test's -m (default 128M, QEMU's), N its smp and ARGS its test_args (or -append); the other QEMU options
(-cpu, devices) have no Peregrine equivalent and are left out, except `-device intel-iommu` and `-device edu`
(`iommu=vtd edu=on`, device_words) and that the AMD-V node's
`-cpu EPYC` gains the features of NODE_FEATURES the test's own -cpu has (node_cpu_features). The verdict is the status the
debug-exit port gives, as QEMU's: 1 PASS, 77 SKIP (the test exits with 77 >> 1), else
FAIL; QEMU's exit 0 means the guest ended without the debug exit (a triple fault under
--no-reboot)."""

import os
import re
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, os.environ.get("KUT_OUT", "build/kut"))
TIMEOUT = int(os.environ.get("KUT_TIMEOUT", "90"))
COLUMNS = os.environ.get("KUT_COLUMNS", "qemu svm vmx").split()
TITLES = {"qemu": "bare QEMU (TCG)", "svm": "Peregrine AMD-V", "vmx": "Peregrine VT-x"}


def parse_config(path):
    """[name] sections of key = value lines; '#' starts a comment line."""
    tests, current = [], None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            match = re.match(r"^\[(.+)\]\s*$", line)
            if match:
                current = {"name": match.group(1)}
                tests.append(current)
            elif current is not None and "=" in line:
                key, value = line.split("=", 1)
                current[key.strip()] = value.strip()
    return tests


def selected(tests, kut):
    wanted = os.environ.get("KUT_TESTS", "").split()
    for test in tests:
        if test.get("arch", "x86_64") != "x86_64":
            continue
        # A word matches names containing it; `=NAME` only that name (`=tsc`: not tsc_adjust).
        if wanted and not any(w[1:] == test["name"] if w.startswith("=") else w in test["name"]
                              for w in wanted):
            continue
        yield test


def test_arguments(test):
    """The test's own arguments: `test_args` (newer unittests.cfg), given as -append."""
    return " ".join(shlex.split(test.get("test_args", "")))


def guest_options(test):
    """(cmdline, memory, cpus) for Peregrine from the test's extra_params and smp. The -m of
    `qemu_params` (2-4 GiB, only in the nested-virtualization tests and asyncpf, which skip
    inside Peregrine) is left out: Peregrine itself runs in 2 GiB (QEMU) or 512 MiB (Bochs)."""
    args = shlex.split(test.get("extra_params", ""))
    cmdline, memory, cpus = test_arguments(test), "128M", test.get("smp", "1")
    index = 0
    while index < len(args):
        if args[index] == "-append" and index + 1 < len(args):
            cmdline = args[index + 1]
            index += 1
        elif args[index] == "-m" and index + 1 < len(args):
            memory = args[index + 1].upper()
            memory = memory if memory[-1] in "KMG" else memory + "M"
            index += 1
        elif args[index] == "-smp" and index + 1 < len(args):
            cpus = args[index + 1].split(",")[0]
            index += 1
        index += 1
    return cmdline, memory, cpus


# CPU features Peregrine passes to its guests that QEMU's EPYC lacks and QEMU's TCG emulates
# (with SVM still working): the AMD-V node is started with them when the test's own -cpu has
# them (`max` has every one). RDPID is not here: QEMU 7.2's TCG does not emulate it
# (docs/kvm-unit-tests.md, "Which host CPU").
NODE_FEATURES = ["pku", "pks"]


def node_cpu_features(test):
    """The `,+FEATURE` suffix for the AMD-V node's `-cpu EPYC`: each of NODE_FEATURES the
    test's own `-cpu` asks for, by name (`+pku`) or as `max`."""
    args = qemu_options(test)
    cpu = args[args.index("-cpu") + 1] if "-cpu" in args[:-1] else ""
    parts = cpu.split(",")
    wanted = [f for f in NODE_FEATURES if parts[0] == "max" or "+" + f in parts[1:]
              or f in parts[1:]]
    return "".join(",+" + f for f in wanted)


def verdict(status):
    if status is None:
        return "FAIL (no status)"
    if status == 1:
        return "PASS"
    if status == 77:  # lib/report.c: a skipped test exits with 77 >> 1, which QEMU makes 77
        return "SKIP (77)"
    return "FAIL (%d)" % status


def qemu_options(test):
    """The test's QEMU options: unittests.cfg names them `qemu_params` (newer) or
    `extra_params` (older); kvm-unit-tests' runner takes either (scripts/vmm.bash)."""
    return shlex.split(test.get("extra_params", "")) + shlex.split(test.get("qemu_params", ""))


def run_bare(test, kut, log):
    """QEMU as kvm-unit-tests' x86/run starts it (its devices and options, `-cpu` included),
    with TCG and without the environment initrd; QEMU's own exit status is the verdict."""
    if test.get("accel", "tcg") != "tcg":
        # kvm-unit-tests' runner skips a test whose `accel` is not the one it runs with.
        return "SKIP (accel=%s)" % test["accel"]
    args = qemu_options(test)
    cpu = args[args.index("-cpu") + 1] if "-cpu" in args[:-1] else ""
    if "-enable-kvm" in args or cpu.split(",")[0] == "host":
        # This column is TCG; `-enable-kvm` or `-cpu host` would run the test on the
        # machine's KVM (or fail without it), not on TCG.
        return "SKIP (needs KVM)"
    command = ["qemu-system-x86_64", "--no-reboot", "-nodefaults", "-device", "pc-testdev",
               "-device", "isa-debug-exit,iobase=0xf4,iosize=0x4", "-display", "none",
               "-serial", "stdio", "-device", "pci-testdev", "-machine", "accel=tcg",
               "-kernel", os.path.join(kut, "x86", test["file"]),
               "-smp", test.get("smp", "1")] + args
    if test_arguments(test):
        command += ["-append", test_arguments(test)]
    try:
        result = subprocess.run(command, cwd=kut, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        output, status = result.stdout.decode("utf-8", "replace"), result.returncode
    except subprocess.TimeoutExpired as expired:
        output, status = (expired.stdout or b"").decode("utf-8", "replace"), None
    with open(log, "w") as f:
        f.write(" ".join(shlex.quote(c) for c in command) + "\n" + output)
    if status is None:
        return "TIMEOUT"
    refused = re.search(r"^qemu-system-x86_64: (?!warning)(.*)$", output, re.M)
    if status == 1 and refused:
        # QEMU's own exit 1 before the guest ran (e.g. `-cpu host` needs KVM), not the
        # debug-exit's PASS.
        return "ERROR (QEMU: %s)" % refused.group(1).strip()[:50]
    return verdict(status)


def vm_name(test):
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", test["name"])[:31]
    return name or "kut"


def environment():
    """kvm-unit-tests' environment (its initrd, the one multiboot module): TEST_DEVICE=0.
    Peregrine's `testdev=on` gives the pc-testdev's data port, IRQ lines and I/O RAM, but
    not its page-flush port (0xE4) nor KVM's PV-IPI hypercall, which TEST_DEVICE=1 would
    make x2apic/xapic and eventinj use; with 0 they leave those out, as kvm-unit-tests'
    own runner does for a QEMU without the device."""
    path = os.path.join(OUT, "environ")
    with open(path, "w") as f:
        f.write("TEST_DEVICE=0\n")
    return path


def device_words(test):
    """The Peregrine profile words for the test's QEMU devices that Peregrine models:
    `-device intel-iommu` is `iommu=vtd` (docs/virtual-iommu.md), `-device edu` is
    `edu=on`. Other devices have no equivalent and are dropped."""
    args = qemu_options(test)
    devices = [args[i + 1].split(",")[0] for i in range(len(args) - 1) if args[i] == "-device"]
    words = ""
    if "intel-iommu" in devices:
        words += " iommu=vtd"
    if "edu" in devices:
        words += " edu=on"
    return words


def run_peregrine(test, kut, column, log):
    cmdline, memory, cpus = guest_options(test)
    name = vm_name(test)
    iso = os.path.join(OUT, "iso", "%s.iso" % test["name"])
    profile = "vm name=%s kind=multiboot mem=%s cpus=%s testdev=on%s" % (
        name, memory, cpus, device_words(test))
    if cmdline.strip():
        profile += " -- " + cmdline
    build = subprocess.run(
        ["make", "--no-print-directory", "-s", "iso", "ISO=" + iso,
         "CMDLINE=loglevel=info batch",
         "GUEST_MODULES=%s:%s;%s:module vm=%s environ"
         % (os.path.join(kut, "x86", test["file"]), profile, environment(), name)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if build.returncode != 0:
        with open(log, "w") as f:
            f.write(build.stdout.decode("utf-8", "replace"))
        return "FAIL (ISO)"
    if column == "svm":
        command = ["scripts/run-qemu.sh", iso]
        env = dict(os.environ, PEREGRINE_CPUS=str(max(2, int(cpus))), PEREGRINE_MEMORY="2G",
                   PEREGRINE_CPU_FEATURES=node_cpu_features(test))
        limit = TIMEOUT
    else:
        command = ["timeout", "-k", "5", str(3 * TIMEOUT + 5), "scripts/run-bochs.sh", iso,
                   str(3 * TIMEOUT)]
        env = dict(os.environ, PEREGRINE_BOCHS_CPUS=cpus)
        limit = 3 * TIMEOUT + 15
    try:
        result = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, timeout=limit, stdin=subprocess.DEVNULL)
        output = result.stdout.decode("utf-8", "replace")
        if result.returncode in (124, 137):  # timeout(1) ended Bochs
            output += "\n(timeout)\n"
    except subprocess.TimeoutExpired as expired:
        output = (expired.stdout or b"").decode("utf-8", "replace") + "\n(timeout)\n"
    with open(log, "w") as f:
        f.write(output)
    match = re.search(r"vm %s: stopped by the guest, exit code \d+ \(debug-exit status (\d+)\)"
                      % re.escape(name), output)
    if match:
        return verdict(int(match.group(1)))
    refused = re.search(r"refused: (.*)", output)
    if refused:
        return "FAIL (refused: %s)" % refused.group(1).strip()
    stopped = re.search(r"summary: vm %s: (.*)" % re.escape(name), output)
    if stopped:
        return "FAIL (%s)" % stopped.group(1).strip()[:60]
    return "TIMEOUT" if "(timeout)" in output else "FAIL (no end report)"


def main():
    kut = sys.argv[1]
    os.makedirs(os.path.join(OUT, "iso"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "logs"), exist_ok=True)
    tests = list(selected(parse_config(os.path.join(kut, "x86", "unittests.cfg")), kut))
    header = "| test | " + " | ".join(TITLES[c] for c in COLUMNS) + " |"
    print(header)
    print("|---" * (len(COLUMNS) + 1) + "|")
    totals = {c: {} for c in COLUMNS}
    for test in tests:
        cells = []
        for column in COLUMNS:
            log = os.path.join(OUT, "logs", "%s.%s.log" % (test["name"], column))
            if not os.path.exists(os.path.join(kut, "x86", test.get("file", "-"))):
                cell = "SKIP (not built)"
            elif column == "qemu":
                cell = run_bare(test, kut, log)
            else:
                cell = run_peregrine(test, kut, column, log)
            word = cell.split()[0]
            totals[column][word] = totals[column].get(word, 0) + 1
            cells.append(cell)
        print("| %s | %s |" % (test["name"], " | ".join(cells)), flush=True)
    print()
    for column in COLUMNS:
        print("%s: %s" % (TITLES[column], ", ".join("%d %s" % (n, w) for w, n in sorted(totals[column].items()))))


if __name__ == "__main__":
    main()
