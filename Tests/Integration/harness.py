"""Boots Peregrine ISOs in the emulators and judges them by their serial console.

Each case names an ISO (built by the Makefile with a kernel command line and guest
modules), an emulator, the lines that must appear (in order), the lines that must not, and
how the run must end. Every run ends by itself: the hypervisor writes its status to QEMU's
isa-debug-exit device or Bochs's shutdown port; a timeout is a failure, never a pass.
"""

import dataclasses
import os
import re
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LOGS = os.path.join(ROOT, "build", "test-logs")


@dataclasses.dataclass
class Case:
    name: str
    emulator: str  # "qemu", "bochs", or "host" (the driver starts the emulators)
    iso: str  # ISO path relative to ROOT
    expect: list  # regexes that must match, in this order
    forbid: list = dataclasses.field(default_factory=list)
    # The status the hypervisor must report on its last line: success, failure or panic.
    status: str = "success"
    timeout: int = 120
    qemu_args: list = dataclasses.field(default_factory=list)
    env: dict = dataclasses.field(default_factory=dict)
    # Patterns that must match exactly this many lines: {regex: count}.
    counts: dict = dataclasses.field(default_factory=dict)
    # Minutes rather than seconds (a multi-CPU Linux boot under Bochs): run by
    # `make test-slow` (run.py --slow), not by `make test`.
    slow: bool = False
    # Mostly waiting on real time (pings, the CLI between steps): run in a slot of its own
    # beside the `jobs` others (run_all), so that its waits leave no core idle. Only for a
    # case whose checks do not depend on the host's load. Measured alone, CPU seconds of all
    # cores over wall seconds: migration-faults-cli 6.7/27.4, guest-net-two-vms 12.0/37.5.
    waits: bool = False
    # A host-side step that runs while the emulator runs, e.g. sending network
    # traffic to the node: an object with qemu_args() and env() (added to the run; Bochs
    # takes only env()) and
    # run(console), which may return more regexes to expect after `expect` and raises
    # DriverFailure when what it saw is wrong. None for the usual boot-and-read cases.
    driver: object = None
    # A last check of the whole output: returns None, or why the run failed.
    verify: object = None
    # Whether the case cannot run here: a function returning None, or why it is skipped
    # (e.g. bridge networking without CAP_NET_ADMIN). Skipped cases never fail.
    skip: object = None


class DriverFailure(Exception):
    """A driver's verdict: the case fails with this message."""


class LiveConsole:
    """The serial console of a running emulator, as far as it has been written."""

    def __init__(self, path):
        self.path = path

    def text(self):
        with open(self.path, encoding="utf-8", errors="replace") as f:
            return f.read().replace("\r", "")

    def wait_for(self, pattern, timeout):
        """The first match of `pattern` within `timeout` seconds, or DriverFailure."""
        deadline = time.time() + timeout
        regex = re.compile(pattern, re.MULTILINE)
        while time.time() < deadline:
            match = regex.search(self.text())
            if match:
                return match
            time.sleep(0.2)
        raise DriverFailure("console never showed %r within %ds" % (pattern, timeout))


def iso_cmdline(spec):
    """The kernel command line of a test ISO: its spec's, plus `batch` (power off once every
    VM has ended, and with no VM at all, instead of waiting for commands) unless the spec
    says `"stay_up": True`."""
    cmdline = spec["cmdline"]
    if not spec.get("stay_up") and "batch" not in cmdline.split():
        cmdline = (cmdline + " batch").strip()
    return cmdline


# QEMU's isa-debug-exit turns status s into exit code (s << 1) | 1.
QEMU_EXIT = {"success": 1, "failure": 3, "panic": 5}


def kvm_usable():
    """Whether /dev/kvm can run a guest here: a one-second QEMU boot with -enable-kvm."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "/dev/kvm is not accessible"
    # -cpu host passes the host's own features through: without VMX or SVM on the host, the
    # guest has no hardware virtualization, and some /dev/kvm variants cannot run it at all.
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = set(cpuinfo.read().split())
    except OSError:
        flags = set()
    if not flags & {"vmx", "svm"}:
        return False, "the host CPU offers neither VMX nor SVM to pass through to -cpu host"
    try:
        probe = subprocess.run(
            ["qemu-system-x86_64", "-enable-kvm", "-cpu", "host", "-display", "none", "-m", "64",
             "-no-reboot", "-S", "-monitor", "none", "-serial", "none"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=3, stdin=subprocess.DEVNULL)
        text = probe.stdout.decode("utf-8", "replace").strip().splitlines()
        return False, (text[-1] if text else "qemu -enable-kvm exited at once")
    except subprocess.TimeoutExpired:
        return True, ""  # still running, paused at the first instruction: KVM works


def run_case(case):
    """Runs one case; returns (passed, reason, seconds); passed is None when skipped."""
    if case.emulator == "kvm":
        usable, why = kvm_usable()
        if not usable:
            return None, "skipped: no usable KVM here (%s)" % why, 0.0
    if case.skip is not None:
        why = case.skip()
        if why:
            return None, "skipped: " + why, 0.0
    os.makedirs(LOGS, exist_ok=True)
    log_path = os.path.join(LOGS, case.name + ".log")
    iso = os.path.join(ROOT, case.iso)
    env = dict(os.environ, **case.env)
    start = time.time()
    if case.emulator == "host":
        return run_host_case(case, log_path, start)
    if case.driver is not None:
        return run_driven_case(case, iso, env, log_path, start)
    if case.emulator in ("qemu", "kvm"):
        # -d cpu_reset: QEMU logs "Triple fault" when the host (Peregrine) triple-faults.
        cmd = [os.path.join(ROOT, "scripts", "run-qemu.sh"), iso] + case.qemu_args + [
            "-d", "cpu_reset", "-D", log_path + ".qemu"]
    else:
        cmd = [os.path.join(ROOT, "scripts", "run-bochs.sh"), iso, str(case.timeout), log_path + ".serial"]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=case.timeout + 10, env=env, stdin=subprocess.DEVNULL)
        output = proc.stdout.decode("utf-8", "replace")
        code = proc.returncode
    except subprocess.TimeoutExpired as expired:
        output = (expired.stdout or b"").decode("utf-8", "replace")
        code = None
    if case.emulator == "bochs" and os.path.exists(log_path + ".serial"):
        with open(log_path + ".serial", encoding="utf-8", errors="replace") as f:
            output = f.read()
    seconds = time.time() - start
    with open(log_path, "w") as f:
        f.write(output)
    verdict = judge(case, output, code)
    if not verdict[0] and multi_threaded_tcg(case, env) and not getattr(case, "_retried", False):
        # QEMU 7.2's multi-threaded TCG with SVM now and then faults the hypervisor right
        # after a #VMEXIT, or a guest with it (docs/smp.md, "Emulator defects"; about one
        # case in a hundred, a different one each run, never on one TCG thread or Bochs).
        # Run once more and say so on the case's line, with what the first run saw.
        case._retried = True
        first = verdict[1] + (" (host triple fault)" if host_triple_fault(log_path + ".qemu") else "")
        os.replace(log_path, log_path + ".first")
        passed, reason, again = run_case(case)
        note = "retried once under QEMU's multi-threaded TCG; first run: %s (log %s.first)" % (
            first, os.path.relpath(log_path, ROOT))
        return passed, (reason + "; " + note) if reason else note, seconds + again
    return verdict + (seconds,)


def multi_threaded_tcg(case, env):
    """QEMU with several CPUs on its multi-threaded TCG (the default; not with -icount or
    PEREGRINE_TCG_SINGLE=1)."""
    return (case.emulator == "qemu" and env.get("PEREGRINE_CPUS", "2") != "1"
            and env.get("PEREGRINE_TCG_SINGLE", "0") != "1" and env.get("PEREGRINE_ICOUNT", "0") != "1")


def host_triple_fault(qemu_log):
    """Whether QEMU logged a triple fault of the hypervisor itself (a guest's becomes a
    #VMEXIT, which QEMU does not log as one)."""
    try:
        with open(qemu_log, errors="replace") as f:
            return "Triple fault" in f.read()
    except OSError:
        return False


def run_host_case(case, log_path, start):
    """A case whose driver starts the emulators itself (e.g. `peregrine node up`): it
    passes when the driver raises no DriverFailure; its `notes` go to the log and the
    case's line."""
    failure = None
    try:
        case.driver.run(None)
    except DriverFailure as error:
        failure = str(error)
    notes = list(getattr(case.driver, "notes", []))
    with open(log_path, "w") as log:
        log.write("".join(note + "\n" for note in notes + ([failure] if failure else [])))
    if failure is not None:
        return False, "driver: " + failure, time.time() - start
    return True, "; ".join(notes), time.time() - start


def run_driven_case(case, iso, env, log_path, start):
    """QEMU with the case's driver running beside it; the console goes to the log file as
    it comes, so the driver can watch it."""
    env = dict(env, **case.driver.env())
    if case.emulator == "bochs":  # its console is the serial file, written as it comes
        console_path = log_path + ".serial"
        open(console_path, "w").close()
        cmd = [os.path.join(ROOT, "scripts", "run-bochs.sh"), iso, str(case.timeout), console_path]
    else:
        console_path = log_path
        cmd = [os.path.join(ROOT, "scripts", "run-qemu.sh"), iso] + case.qemu_args + case.driver.qemu_args()
    extra = []
    failure = None
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL)
        try:
            extra = case.driver.run(LiveConsole(console_path)) or []
        except DriverFailure as error:
            failure = str(error)
            proc.kill()  # the verdict is in: no need to wait for the timeout
        try:
            code = proc.wait(timeout=max(case.timeout - (time.time() - start), 5))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = None
    with open(console_path, encoding="utf-8", errors="replace") as f:
        output = f.read()
    if console_path != log_path:
        with open(log_path, "w") as f:
            f.write(output)
    seconds = time.time() - start
    if failure is not None:
        return False, "driver: " + failure, seconds
    return judge(case, output, code, extra) + (seconds,)


def judge(case, output, code, extra=()):
    output = output.replace("\r", "")  # the serial console ends lines with CR LF
    position = 0
    for pattern in list(case.expect) + list(extra):
        match = re.compile(pattern, re.MULTILINE).search(output, position)
        if not match:
            return False, "missing: %r" % pattern
        position = match.end()
    for pattern in case.forbid:
        if re.search(pattern, output, re.MULTILINE):
            return False, "forbidden line present: %r" % pattern
    if case.verify is not None:
        problem = case.verify(output)
        if problem:
            return False, problem
    for pattern, expected in case.counts.items():
        found = len(re.findall(pattern, output, re.MULTILINE))
        if found != expected:
            return False, "%d lines match %r, expected %d" % (found, pattern, expected)
    final = re.findall(r"^peregrine: halted, status (\w+)", output, re.MULTILINE)
    if not final:
        return False, "the run did not end with a status (timeout or hang; exit code %s)" % code
    if final[-1] != case.status:
        return False, "ended with status %s, expected %s" % (final[-1], case.status)
    if case.emulator in ("qemu", "kvm") and code != QEMU_EXIT[case.status]:
        return False, "QEMU exit code %s, expected %s" % (code, QEMU_EXIT[case.status])
    if case.emulator == "bochs" and code not in (0, 1):
        return False, "Bochs exit code %s (timeout or crash)" % code
    return True, ""


def run_all(cases, jobs=2):
    """Runs cases `jobs` at a time, and those that wait (Case.waits) one at a time beside
    them; prints a line per case; returns (passed, failed, skipped, {name: seconds})."""
    import concurrent.futures

    passed = failed = skipped = 0
    durations = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool, \
            concurrent.futures.ThreadPoolExecutor(max_workers=1) as waiting_pool:
        futures = [(case, (waiting_pool if case.waits else pool).submit(run_case, case))
                   for case in cases]
        for case, future in futures:
            ok, reason, seconds = future.result()
            durations[case.name] = seconds
            if ok is None:
                print("SKIP  %-40s %5.1fs  %s" % (case.name, seconds, reason))
                skipped += 1
                continue
            label = "PASS" if ok else "FAIL"
            print("%s  %-40s %5.1fs  %s" % (label, case.name, seconds, reason or ""))
            if not ok:
                print("      log: build/test-logs/%s.log" % case.name)
            sys.stdout.flush()
            passed += ok
            failed += not ok
    return passed, failed, skipped, durations
