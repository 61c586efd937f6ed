#!/usr/bin/env python3
"""Issue 15 item 6, "Validation": one small scenario run for real on emulated nodes and in
the simulator (`peregrine ft simulate`), side by side (docs/fault-tolerance.md,
"Validation").

Per policy, a fresh cluster of two AMD-V nodes under QEMU TCG (`peregrine node up --count
2`), and one job: the 16 MiB flat ticker (guests/management/management-ticker.asm), which
prints `tick N` every 2^28 TSC cycles on its console; its progress is the last N on the
consoles (guest time stands still while it is paused, so a checkpoint's or a migration's
pause delays the ticks and a restore goes on from the checkpoint's N). The job is done at
tick K, K = WORK seconds over the tick period measured before anything happens.

The scenario, in seconds after the job's first tick (t0):
- `peregrine ft run --policy P --interval INTERVAL` runs from t0 (threshold: migrates a VM
  off a node with 3 corrected errors in one bank; periodic-checkpoint: every PERIOD s;
  none: nothing);
- at INJECT, 4 corrected errors are injected into node0's bank 1 (QEMU `mce`, 2.5 s
  apart, as `node inject-mce` does);
- at FAIL, node0's QEMU is killed (SIGKILL);
- the operator's loop (this script), polling `nodes` every INTERVAL s on the daemon's
  cadence, sees node0 dead and restarts the job on node1: `peregrine restore` of the
  newest checkpoint (periodic-checkpoint), or a new `create` from the start (none). Under
  threshold the job is no longer on node0 by then.

Measured: completion (t0 to tick K, wall), lost work (ticks printed after the checkpoint
the job went back to, times the tick period), and the costs the simulator takes: a
migration's length (its daemon poll's duration less a poll's own) and downtime (the gap in
the ticks less one period), a checkpoint's pause (gap in the ticks less one period), the
restore's length, and the restart (failure noticed to restore or create started). The
simulator then runs the same scenario (2 nodes, 1 VM of 16 MiB, a job of K periods,
the errors where the daemon saw them, the failure at its measured time, the same
interval and period) with a costs file of exactly those numbers.

Writes build/bench/ft-validation.csv (policy, real and simulated completion and lost
work, the completion's relative error), build/bench/ft-validation-costs.txt, and per
policy the run's record (ft-validation-POLICY.json: every tick with the time it was seen,
the daemon's polls, the measured times) and the simulated trace; prints them.
FT_VALIDATE_RESIMULATE=1 skips the real runs and simulates again from those records
(after a change to the simulator's model). All times are wall time on emulated nodes (TCG) on a shared host: they
validate the simulator's model against this system, they are not hardware figures.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "Tests", "Integration"))
import cases_management  # noqa: E402

CLI = os.environ.get("FT_VALIDATE_CLI", os.path.join(ROOT, "build", "bin", "peregrine"))
OUT = os.path.join(ROOT, "build", "bench")


def setting(name, default):
    return type(default)(os.environ.get("FT_VALIDATE_" + name, default))


WORK = setting("WORK", 120.0)
INTERVAL = setting("INTERVAL", 5.0)
INJECT = setting("INJECT", 30.0)
FAIL = setting("FAIL", 80.0)
PERIOD = setting("PERIOD", 30.0)
POLICIES = setting("POLICIES", "threshold periodic-checkpoint none").split()
INJECTED = 4
TICK = re.compile(r"^\[[\w.-]+\] tick (\d+)$", re.MULTILINE)


class Failure(Exception):
    pass


class Ticks(threading.Thread):
    """Reads every node's console every 50 ms: per node, each tick number with the time it
    was first seen."""

    def __init__(self, home, nodes):
        super().__init__(daemon=True)
        self.paths = {n: os.path.join(home, "nodes", n, "serial.log") for n in nodes}
        self.seen = {n: [] for n in nodes}
        self.offsets = {n: 0 for n in nodes}
        self.partial = {n: "" for n in nodes}
        self.lock = threading.Lock()
        self.stopping = False

    def run(self):
        while not self.stopping:
            for node, path in self.paths.items():
                try:
                    with open(path, "rb") as f:
                        f.seek(self.offsets[node])
                        data = f.read()
                except OSError:
                    continue
                now = time.time()
                self.offsets[node] += len(data)
                text = self.partial[node] + data.decode("utf-8", "replace").replace("\r", "")
                complete, _, self.partial[node] = text.rpartition("\n")
                with self.lock:
                    for number in TICK.findall(complete + "\n"):
                        self.seen[node].append((now, int(number)))
            time.sleep(0.05)

    def on(self, node):
        with self.lock:
            return list(self.seen[node])

    def last(self):
        """The newest tick of any node: (time, number, node)."""
        with self.lock:
            rows = [(t, n, node) for node, seen in self.seen.items() for t, n in seen[-1:]]
        return max(rows) if rows else None


class Recorded:
    """Ticks as a recorded run saw them."""

    def __init__(self, seen):
        self.seen = seen

    def on(self, node):
        return list(self.seen.get(node, []))


# What a run measured, as written to build/bench/ft-validation-POLICY.json.
MEASURED = ["t0", "daemon_start", "period", "target", "injected", "failed", "noticed",
            "completion", "lost_ticks", "last_on_node0", "restart_seconds", "restore_seconds",
            "create_seconds", "recorded_at"]


class Run:
    def __init__(self, policy):
        self.policy = policy
        self.home = tempfile.mkdtemp(prefix="peregrine-ftval-")
        self.daemon = None
        self.lines = []
        self.notes = []

    def cli(self, *args, timeout=300, check=True):
        proc = subprocess.run([CLI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=dict(os.environ, PEREGRINE_HOME=self.home), timeout=timeout,
                              stdin=subprocess.DEVNULL)
        out, err = proc.stdout.decode(), proc.stderr.decode()
        if check and proc.returncode != 0:
            raise Failure("peregrine %s: exit %d: %s%s" % (" ".join(args), proc.returncode,
                                                           out[-400:], err[-400:]))
        return proc.returncode, out, err

    def json(self, *args, timeout=300):
        return json.loads(self.cli(*args, "--json", timeout=timeout)[1])

    def read_daemon(self):
        """`ft run --json` writes one pretty-printed object per poll, each in one write:
        each with the time it arrived (the poll's end)."""
        decoder = json.JSONDecoder()
        buffer = ""
        while True:
            chunk = os.read(self.daemon.stdout.fileno(), 1 << 16)
            if not chunk:
                return
            arrived = time.time()
            buffer += chunk.decode("utf-8", "replace")
            while True:
                buffer = buffer.lstrip()
                try:
                    step, end = decoder.raw_decode(buffer)
                except ValueError:
                    break
                self.lines.append((arrived, step))
                buffer = buffer[end:]

    def at(self, seconds):
        """Sleeps until t0 + seconds."""
        delay = self.t0 + seconds - time.time()
        if delay > 0:
            time.sleep(delay)

    def wait_tick(self, above, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            last = self.ticks.last()
            if last and last[1] > above:
                return last
            time.sleep(0.05)
        raise Failure("%s: the job never passed tick %d (last %r)" % (self.policy, above,
                                                                     self.ticks.last()))

    def first_tick_on(self, node, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            seen = self.ticks.on(node)
            if seen:
                return seen[0]
            time.sleep(0.05)
        raise Failure("%s: %s never ticked" % (self.policy, node))

    def gaps(self, node, start, end):
        """Pauses in node's ticks within (start, end): each gap longer than 1.8 periods, as
        (time of the tick before it, length less one period)."""
        seen = [(t, n) for t, n in self.ticks.on(node) if start <= t <= end]
        return [(a[0], b[0] - a[0] - self.period)
                for a, b in zip(seen, seen[1:]) if b[0] - a[0] > 1.8 * self.period]

    def execute(self):
        self.cli("node", "up", "--count", "2", "--cpus", "1", "--memory", "256M", "--wait",
                 "300", timeout=360)
        nodes = ["node0", "node1"]
        self.ticks = Ticks(self.home, nodes)
        self.ticks.start()
        profile = os.path.join(self.home, "tick.xml")
        with open(profile, "w") as f:
            f.write(cases_management.PROFILE % ("tick", cases_management.TICKER))
        self.cli("create", profile, "--node", "node0", timeout=120)
        first = self.wait_tick(0, 60)
        # The job started one period before its first tick; the period is measured below,
        # so t0 is corrected then.
        self.t0 = first[0]
        command = [CLI, "ft", "run", "--policy", self.policy, "--interval", str(INTERVAL),
                   "--checkpoint-period", str(PERIOD), "--backoff", "0", "--json",
                   "--checkpoint-dir", os.path.join(self.home, "checkpoints")]
        # Its warnings (a dead node at every poll) go to a file: a pipe nobody reads
        # would fill and stop the daemon in a longer run.
        errors = open(os.path.join(OUT, "ft-validation-%s.err" % self.policy), "w")
        self.daemon = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors,
                                       env=dict(os.environ, PEREGRINE_HOME=self.home),
                                       stdin=subprocess.DEVNULL)
        errors.close()
        self.daemon_start = time.time()
        threading.Thread(target=self.read_daemon, daemon=True).start()

        # The tick period, from the undisturbed start (the first checkpoint is PERIOD s in,
        # the errors come at INJECT).
        self.at(min(INJECT, PERIOD) - 3)
        seen = self.ticks.on("node0")
        (ta, na), (tb, nb) = seen[0], seen[-1]
        self.period = (tb - ta) / (nb - na)
        self.t0 = ta - na * self.period
        self.target = int(round(WORK / self.period))
        self.notes.append("tick period %.4f s (%d ticks in %.1f s); job: %d ticks = %.1f s of "
                          "work" % (self.period, nb - na, tb - ta, self.target,
                                    self.target * self.period))

        self.at(INJECT)
        self.injected = time.time() - self.t0
        self.cli("node", "inject-mce", "node0", "--bank", "1", "--count", str(INJECTED),
                 "--interval", "2.5", timeout=60)

        self.at(FAIL)
        pid = [n for n in self.json("nodes")["nodes"] if n["name"] == "node0"][0]["pid"]
        os.kill(pid, signal.SIGKILL)
        killed = time.time()
        self.failed = killed - self.t0
        time.sleep(0.3)  # the watcher reads what node0 wrote before it died
        seen = self.ticks.on("node0")
        self.last_on_node0 = seen[-1][1] if seen else 0
        self.restart_job(killed)
        self.wait_tick(self.target - 1, 1200)
        done = self.ticks.last()
        self.completion = done[0] - self.t0
        self.daemon.send_signal(signal.SIGINT)
        try:
            self.daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
        self.ticks.stopping = True
        self.recorded_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.measure()
        record = {name: getattr(self, name) for name in MEASURED}
        record.update(ticks=self.ticks.seen, polls=self.lines)
        with open(os.path.join(OUT, "ft-validation-%s.json" % self.policy), "w") as f:
            json.dump(record, f)

    @classmethod
    def load(cls, policy):
        """A run as an earlier real run recorded it (FT_VALIDATE_RESIMULATE=1)."""
        with open(os.path.join(OUT, "ft-validation-%s.json" % policy)) as f:
            record = json.load(f)
        run = cls.__new__(cls)
        run.policy, run.notes = policy, []
        for name in MEASURED:
            setattr(run, name, record[name])
        run.lines = [(arrived, step) for arrived, step in record["polls"]]
        run.ticks = Recorded({node: [tuple(row) for row in rows]
                              for node, rows in record["ticks"].items()})
        run.measure()
        return run

    def restart_job(self, killed):
        """The operator: polls `nodes` on the daemon's cadence until node0 is dead, then
        restarts the job on node1 (if it was on node0). Its first poll is the first one of
        the cadence after the kill, even if reading node0's last ticks made it late."""
        k = int((killed - self.daemon_start) // INTERVAL) + 1
        while True:
            delay = self.daemon_start + k * INTERVAL - time.time()
            if delay > 0:
                time.sleep(delay)
            k += 1
            rows = {n["name"]: n for n in self.json("nodes")["nodes"]}
            if rows["node0"].get("dead"):
                break
        self.noticed = time.time() - self.t0
        self.lost_ticks = 0
        self.restore_seconds = None
        self.create_seconds = None
        # Ticking on node1 already: migrated away in time (`list` would wait for node0).
        if self.ticks.on("node1"):
            self.restart_seconds = None
            return  # migrated away in time
        directory = os.path.join(self.home, "checkpoints")
        files = sorted(f for f in os.listdir(directory) if f.endswith(".checkpoint")) \
            if os.path.isdir(directory) else []
        started = time.time()
        self.restart_seconds = started - self.t0 - self.noticed
        if files:
            self.cli("restore", os.path.join(directory, files[-1]), "--node", "node1",
                     "--json", timeout=600)
            self.restore_seconds = time.time() - started
            self.notes.append("restored %s on node1 in %.2f s" % (files[-1],
                                                                 self.restore_seconds))
            resumed = self.first_tick_on("node1", 60)
            # The checkpoint held tick resumed-1: what node0 printed after it is lost.
            self.lost_ticks = self.last_on_node0 - (resumed[1] - 1)
            self.notes.append("node0's last tick %d; node1 went on at %d" % (
                self.last_on_node0, resumed[1]))
        else:
            profile = os.path.join(self.home, "tick.xml")
            self.cli("create", profile, "--node", "node1", timeout=120)
            self.create_seconds = time.time() - started
            self.notes.append("created again on node1 in %.2f s" % self.create_seconds)
            self.lost_ticks = self.last_on_node0

    def measure(self):
        """The costs, from the daemon's polls and the ticks."""
        polls = [(arrived, step) for arrived, step in self.lines]
        plain = [arrived - self.daemon_start - step["seconds"] for arrived, step in polls
                 if not step["actions"]]
        self.poll_seconds = sorted(plain)[len(plain) // 2] if plain else 0
        self.migrations = []
        self.checkpoints = []
        self.detected = None
        for arrived, step in polls:
            node0 = [n for n in step["nodes"] if n["name"] == "node0"]
            errors = sum(node0[0]["corrected_errors_by_bank"].values()) if node0 else 0
            if self.detected is None and errors >= 3:
                self.detected = self.daemon_start + step["seconds"] - self.t0
            for action in step["actions"]:
                if action["result"] != "done":
                    self.notes.append("daemon at %.1f s: %s: %s %s" % (
                        step["seconds"], action["action"], action["result"], action["detail"]))
                    continue
                took = arrived - self.daemon_start - step["seconds"] - self.poll_seconds
                if action["action"].startswith("migrate"):
                    self.migrations.append((self.daemon_start + step["seconds"] - self.t0, took))
                else:
                    self.checkpoints.append((self.daemon_start + step["seconds"] - self.t0, took))
        # A checkpoint's pause: the longest gap in the ticks while its poll ran; a
        # migration's downtime: from node0's last tick to node1's first.
        self.pauses = []
        for arrived, step in polls:
            if any(a["result"] == "done" and a["action"].startswith("checkpoint")
                   for a in step["actions"]):
                start = self.daemon_start + step["seconds"]
                gaps = [g for node in ("node0", "node1")
                        for _, g in self.gaps(node, start - 1, arrived + 1)]
                if gaps:
                    self.pauses.append(max(gaps))
        self.downtime = None
        if self.migrations:
            a, b = self.ticks.on("node0"), self.ticks.on("node1")
            if a and b:
                # What the job stood still for: the stop-and-copy (node0's last tick to
                # node1's first) and any stall of the source during pre-copy (the dirty
                # log's start stalled it 1-2 s under TCG), as the simulator's downtime is
                # the job's whole pause for a migration.
                start = self.t0 + self.migrations[0][0]
                stalls = sum(g for _, g in self.gaps("node0", start - 1, a[-1][0] + 0.001))
                self.downtime = max(0.0, b[0][0] - a[-1][0] - self.period) + stalls
        # The tick period over the whole run (every step between ticks of a running VM):
        # the ticker's rate drifts with the host's load, which the simulator's constant
        # one-second-of-work-per-second does not have. FT_VALIDATE_RATE=run uses it
        # instead of the one measured before anything happened (a fit, not a prediction).
        steps = [b[0] - a[0] for node in ("node0", "node1")
                 for a, b in zip(self.ticks.on(node), self.ticks.on(node)[1:])
                 if b[1] == a[1] + 1 and b[0] - a[0] < 1.8 * self.period]
        self.period_all = sum(steps) / len(steps) if steps else self.period
        if os.environ.get("FT_VALIDATE_RATE") == "run":
            self.period = self.period_all
        self.lost = self.lost_ticks * self.period


def mean(values):
    values = list(values)
    return sum(values) / len(values) if values else None


def simulate(run, costs_path):
    trace = os.path.join(OUT, "ft-validation-%s.trace" % run.policy)
    with open(trace, "w") as f:
        f.write("# scripts/ft-validate.py: the real run's scenario, seconds after the job's start\n")
        if run.detected is not None:
            # Where the real daemon first saw them, so the simulated policy fires at the
            # same poll (the simulator's polls are on the same cadence from the start).
            f.write("%.3fs node0 burst count=%d bank=1\n" % (run.detected - INTERVAL / 2,
                                                              INJECTED))
        else:
            f.write("%.3fs node0 burst count=%d bank=1\n" % (run.injected, INJECTED))
        f.write("%.3fs node0 failure\n" % run.failed)
    work_hours = run.target * run.period / 3600
    offset = run.daemon_start - run.t0
    proc = subprocess.run(
        [CLI, "ft", "simulate", "--trace", trace, "--nodes", "2", "--vms", "1",
         "--vm-memory", "16MiB", "--job-hours", "%.9f" % work_hours, "--interval",
         str(INTERVAL), "--poll-offset", "%.3f" % offset, "--checkpoint-period", str(PERIOD),
         "--policy", run.policy, "--costs", costs_path, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    if proc.returncode != 0:
        raise Failure("ft simulate: exit %d: %s" % (proc.returncode, proc.stderr))
    result = json.loads(proc.stdout)["results"][0]
    return result["completion_hours"] * 3600, result["work_lost_hours"] * 3600, result


def main():
    if not os.path.exists(CLI):
        raise SystemExit("%s is missing: make cli" % CLI)
    os.makedirs(OUT, exist_ok=True)
    runs = []
    for policy in POLICIES:
        if os.environ.get("FT_VALIDATE_RESIMULATE"):
            runs.append(Run.load(policy))
            continue
        run = Run(policy)
        print("ft-validate: %s: running (a cluster of 2 nodes, about %d s)" % (
            policy, FAIL + WORK + 120), flush=True)
        try:
            run.execute()
        finally:
            if run.daemon and run.daemon.poll() is None:
                run.daemon.kill()
            run.cli("node", "down", check=False, timeout=120)
            shutil.rmtree(run.home, ignore_errors=True)
        for note in run.notes:
            print("  " + note)
        runs.append(run)

    # The costs of this very run, for 16 MiB.
    def pick(values, what):
        value = mean(values)
        if value is None:
            print("  (no %s measured in this run: 0 s)" % what)
            return 0.0
        return value

    migration = pick([took for _, took in sum((r.migrations for r in runs), [])], "migration")
    downtime = pick([r.downtime for r in runs if r.downtime is not None], "downtime")
    checkpoint = pick(sum((r.pauses for r in runs if r.policy == "periodic-checkpoint"), []),
                      "checkpoint pause")
    restore = pick([r.restore_seconds for r in runs
                    if r.policy == "periodic-checkpoint" and r.restore_seconds], "restore")
    create = pick([r.create_seconds for r in runs if r.create_seconds], "create")
    restart = pick([r.restart_seconds for r in runs if r.restart_seconds is not None], "restart")
    costs_path = os.path.join(OUT, "ft-validation-costs.txt")
    with open(costs_path, "w") as f:
        f.write("# Measured by scripts/ft-validate.py in this run: QEMU TCG nodes, 16 MiB flat\n"
                "# ticker, wall time on a shared host (emulation-scaled, not hardware).\n")
        f.write("migration   16MiB  %.3f\n" % migration)
        f.write("downtime    16MiB  %.3f\n" % downtime)
        f.write("checkpoint  16MiB  %.3f\n" % checkpoint)
        f.write("restore     16MiB  %.3f\n" % restore)
        f.write("create      16MiB  %.3f\n" % create)
        f.write("restart     %.3f\n" % restart)

    rows = ["policy,real_completion_s,sim_completion_s,real_lost_s,sim_lost_s,"
            "completion_error_pct"]
    for run in runs:
        sim_completion, sim_lost, result = simulate(run, costs_path)
        error = 100 * (sim_completion - run.completion) / run.completion
        rows.append("%s,%.2f,%.2f,%.2f,%.2f,%.2f" % (run.policy, run.completion, sim_completion,
                                                     run.lost, sim_lost, error))
        print("%s: real %.1f s (lost %.1f s), simulated %.1f s (lost %.1f s): %+.2f %%; "
              "errors seen at %s s, failure at %.1f s, noticed at %.1f s; migrations %r, "
              "checkpoints %r, pauses %r, downtime %s, restart %s, restore %s, create %s; simulated %d "
              "migrations, %d checkpoints, %d hits" % (
                  run.policy, run.completion, run.lost, sim_completion, sim_lost, error,
                  "%.1f" % run.detected if run.detected is not None else "-", run.failed,
                  run.noticed, [(round(a, 1), round(b, 2)) for a, b in run.migrations],
                  [(round(a, 1), round(b, 2)) for a, b in run.checkpoints],
                  [round(p, 2) for p in run.pauses], run.downtime, run.restart_seconds,
                  run.restore_seconds, run.create_seconds, result["migrations"],
                  result["checkpoints"],
                  result["failures_hit"]))
    with open(os.environ.get("FT_VALIDATE_CSV", os.path.join(OUT, "ft-validation.csv")),
              "w") as f:
        f.write("\n".join(rows) + "\n")
    print(open(costs_path).read())
    print("\n".join(rows))


if __name__ == "__main__":
    try:
        main()
    except Failure as error:
        raise SystemExit("ft-validate: %s" % error)
