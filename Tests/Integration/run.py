#!/usr/bin/env python3
"""Peregrine's integration tests: boot the real ISO in QEMU (AMD-V) and Bochs (VT-x).

    run.py [--list] [--slow] [--prepare-only | --prepared] [NAME_SUBSTRING ...]

--slow runs the slow cases (minutes each: `make test-slow`) instead of the others.
--prepare-only fetches the fixtures and builds the ISOs, and runs nothing; --prepared skips
that (scripts/test.sh does the first in the background while the host tests run).

ISOs are built first (make iso with each case's kernel command line); then every case runs,
PEREGRINE_TEST_JOBS at a time (3: the machines have two cores, and a case keeps about half
of one busy on average: it waits on boots, its CLI and its own timers), longest first by
durations.txt, and the last line reads "N passed, N failed". --record-durations rewrites
durations.txt from the run (a full run on a quiet machine is the one to keep).
"""

import concurrent.futures
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import cases  # noqa: E402
import harness  # noqa: E402


def prepare_linux_fixtures(selected):
    """Debian's kernel and a busybox initramfs (fetched, never committed), and two broken
    bzImages made from it: truncated inside the kernel, and not a kernel at all."""
    if not any("linux" in case.iso for case in selected):
        return
    result = subprocess.run([os.path.join(harness.ROOT, "scripts", "fetch-linux-fixtures.sh")],
                            cwd=harness.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        sys.stdout.write(result.stdout.decode("utf-8", "replace"))
        raise SystemExit("could not fetch the Linux fixtures")
    linux = os.path.join(harness.ROOT, "build", "linux")
    with open(os.path.join(linux, "vmlinuz"), "rb") as f:
        image = f.read()
    with open(os.path.join(linux, "vmlinuz-truncated"), "wb") as f:
        f.write(image[:len(image) // 2])
    with open(os.path.join(linux, "not-a-kernel"), "wb") as f:
        f.write(bytes(64 * 1024))


def build_cli(selected):
    """The management, checkpoint, migration and cluster cases drive build/bin/peregrine:
    built here (debug, what `swift test` already compiled; a no-op when it is current) so
    that it matches the tree whichever cases run (it was built only for "management" names,
    and a checkpoint case run alone used a stale CLI)."""
    result = subprocess.run(["make", "--no-print-directory", "-s", "cli", "CLI_CONFIGURATION=debug"],
                            cwd=harness.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        sys.stdout.write(result.stdout.decode("utf-8", "replace"))
        raise SystemExit("could not build the peregrine CLI")


def prepare_topics(selected):
    """A topic module's own inputs its ISOs carry (e.g. a disk image): its prepare(selected),
    when it has one, before any ISO is built."""
    for module in cases.topic_modules():
        if hasattr(module, "prepare"):
            module.prepare(selected)


def build_isos(selected):
    """Every ISO the selected cases boot. The first is built alone (it builds the kernel and
    the guests they all share); the rest, which only pack files with grub-mkrescue and wait
    on it far more than they compute, four at a time: 65 ISOs took 143 s one by one."""
    commands = []
    for iso, spec in sorted(cases.ISOS.items()):
        if not any(case.iso == iso for case in selected):
            continue
        command = ["make", "--no-print-directory", "-s", "iso", "ISO=" + iso,
                   "CMDLINE=" + harness.iso_cmdline(spec)]
        if spec.get("flat"):
            # The README's bring-your-own-guest path, exactly as a user types it.
            guest, args = spec["flat"]
            command += ["FLAT_GUEST=" + guest, "FLAT_ARGS=" + args]
        elif "modules" in spec:  # an empty list: no guest at all
            command.append("GUEST_MODULES=" + ";".join(spec["modules"]))
        commands.append((iso, command))

    def build(item):
        iso, command = item
        result = subprocess.run(command, cwd=harness.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return iso, result

    def check(iso, result):
        if result.returncode != 0:
            sys.stdout.write(result.stdout.decode("utf-8", "replace"))
            raise SystemExit("could not build %s" % iso)

    if not commands:
        return
    check(*build(commands[0]))
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for iso, result in pool.map(build, commands[1:]):
            check(iso, result)


DURATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "durations.txt")


def recorded_durations():
    """{case name: seconds} from durations.txt (empty without it)."""
    known = {}
    if os.path.exists(DURATIONS):
        with open(DURATIONS) as f:
            for line in f:
                fields = line.split()
                if len(fields) == 2 and not line.startswith("#"):
                    known[fields[0]] = float(fields[1])
    return known


def longest_first(selected):
    """The cases in order of their last recorded duration, longest first, so that no long
    case starts last and runs alone; a case without one (new) goes first, in its place."""
    known = recorded_durations()
    return sorted(selected, key=lambda case: -known.get(case.name, float("inf")))


def record_durations(seconds):
    """durations.txt: each case's seconds from this run, merged over the recorded ones."""
    known = recorded_durations()
    known.update(seconds)
    with open(DURATIONS, "w") as f:
        f.write("# Each case's seconds in a full run (run.py --record-durations): the run order.\n")
        for name, value in sorted(known.items(), key=lambda item: -item[1]):
            f.write("%s %.1f\n" % (name, value))


def main(argv):
    flags = ("--list", "--slow", "--prepare-only", "--prepared", "--record-durations")
    names = [a for a in argv if a not in flags]
    slow = "--slow" in argv
    selected = [c for c in cases.all_cases()
                if c.slow == slow and (not names or any(a in c.name for a in names))]
    if "--list" in argv:
        for case in selected:
            print(case.name)
        return 0
    if "--prepared" not in argv:
        prepare_linux_fixtures(selected)
        prepare_topics(selected)
        build_isos(selected)
    if "--prepare-only" in argv:
        print("integration: fixtures and %d ISOs ready" % len({case.iso for case in selected}))
        return 0
    build_cli(selected)
    selected = longest_first(selected)
    jobs = int(os.environ.get("PEREGRINE_TEST_JOBS", "3"))
    passed, failed, skipped, seconds = harness.run_all(selected, jobs=jobs)
    if "--record-durations" in argv:
        record_durations(seconds)
    print("integration: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
