"""Migration and checkpoint faults (issue 15, "Faults and bad input"; docs/migration.md,
"Faults"), driven only by the CLI, on AMD-V nodes under QEMU with the flat ticker (16 MiB:
a migration takes seconds). A node is killed at a known step: `migrate` runs with
PEREGRINE_MIGRATION_PAUSE_AFTER_ROUND=0, which stops it once round 0 (the whole memory) is
on the target, until the case creates the resume file.

- `...-faults-target`: a target without room is refused before anything moves; while a
  migration of `tick` is held after round 0, a second `peregrine migrate tick` (another
  process) is refused by the lock; the target's QEMU is killed; the first migration then
  fails naming the target, `tick` keeps ticking on the source and is listed there, the lock
  is gone; node1 is restarted (`node up --count 2`) and a new migration to it succeeds
  (the source's dirty log was stopped: `start` on a log that is on is refused), the ticks
  going on from the next number.
- `...-faults-source`: checkpoint files damaged in the header, the saved state, the memory,
  and cut short are each refused by `restore` with the reason, nothing created; then while
  a migration is held after round 0 the source's QEMU is killed: the migration fails naming
  the source and saying the incoming VM on the target was destroyed, and the target lists
  no VM and has its free memory back.
- `...-faults-passthrough`: two q35 nodes with a VT-d unit and a spare virtio-net function
  (cases_passthrough.py): a VM owning the function is refused by `migrate` and by
  `checkpoint` with the reason, no file written; with the CLI's record of its profile
  replaced by one without the function, the node itself refuses the dirty log and the
  migration fails on the source with the incoming copy destroyed; the VM keeps running.
- `...-faults-cli`: the CLI is SIGKILLed in the stop phase (tick paused on node0, its copy
  incoming on node1); with 10 s leases node0 stops the dirty log and resumes tick, node1
  destroys the copy and has its free memory back, both say so in their logs; a new
  migration takes the dead CLI's lock over and succeeds, the ticks going on.
"""

import json
import os
import re
import signal
import subprocess
import time

from harness import Case, DriverFailure
import cases_cluster
import cases_management
import cases_passthrough
from cases_net import free_udp_port

CLI = cases_management.CLI
TICKER = cases_management.TICKER
ISOS = {}

PASSTHROUGH_PROFILE = """<?xml version="1.0"?>
<profile>
  <name>%s</name>
  <memory unit="MiB">16</memory>
  <flat load="0x1000" entry="0000:1000">%s</flat>
  <passthrough pci="0000:00:11.0"/>
</profile>
"""

def first_json(text):
    """The answer's JSON object: with --json a node that did not answer adds its error
    object after it."""
    return json.JSONDecoder().raw_decode(text.lstrip())[0]


class FaultDriver(cases_cluster.ClusterDriver):
    """The cluster driver with what these cases share: the ticker's profile, its ticks on a
    node's console, node pids, and a migration held after round 0."""

    def profile(self, name, mib=16):
        path = os.path.join(self.home, name + ".xml")
        with open(path, "w") as f:
            f.write((cases_management.PROFILE % (name, TICKER)).replace(
                '<memory unit="MiB">16</memory>', '<memory unit="MiB">%d</memory>' % mib))
        return path

    def ticks(self, node, vm="tick"):
        return [int(n) for n in re.findall(r"^\[%s\] tick (\d+)$" % vm, self.serial(node),
                                           re.MULTILINE)]

    def wait_tick(self, node, above, timeout=30, vm="tick"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            ticks = self.ticks(node, vm)
            if ticks and ticks[-1] > above:
                return ticks
            time.sleep(0.2)
        raise DriverFailure("%s's %s never passed tick %d (last %r)" % (
            node, vm, above, self.ticks(node, vm)[-3:]))

    def console_lines(self, node, vm="tick"):
        return re.findall(r"^\[%s\] (.*)$" % vm, self.serial(node), re.MULTILINE)

    def continuity(self):
        """(node1's first tick, node0's last) when node1 counts on from node0 with nothing
        lost or repeated, else None. The ticker prints a character per exit, so the
        migration can pause it mid-line: node0's console then prints the line's start when
        the source VM is destroyed ("tick 22"), node1's its end ("4"); the two joined must
        be the next tick."""
        lines0, lines1 = self.console_lines("node0"), self.console_lines("node1")

        def value(line):
            found = re.fullmatch(r"tick (\d+)", line)
            return int(found.group(1)) if found else None

        if not lines0 or not lines1:
            return None
        if value(lines0[-1]) is not None and value(lines1[0]) == value(lines0[-1]) + 1:
            return value(lines1[0]), value(lines0[-1])
        if len(lines0) >= 2 and len(lines1) >= 2 and value(lines0[-2]) is not None:
            split = value(lines0[-2]) + 1
            if lines0[-1] + lines1[0] == "tick %d" % split and value(lines1[1]) == split + 1:
                self.notes.append("the migration split tick %d's line: %r on node0, %r on node1"
                                  % (split, lines0[-1], lines1[0]))
                return split, split - 1
        return None

    def check_moved_to_node1(self):
        """After a migration of `tick` to node1: listed there only, counting on from the
        tick after node0's last, with nothing lost or repeated."""
        if self.listed() != [("tick", "node1", "running")]:
            raise DriverFailure("after the migration: %r" % self.listed())
        self.wait_tick("node1", 0)
        # node0's serial log may not yet hold the source copy's last line when node1's first
        # shows (a full run read node0's last as 12 with node1 at 14, and 13 a moment
        # later): give it a few seconds to catch up. A lost tick stays a gap, a repeated
        # one is at or past node1's first either way.
        deadline = time.time() + 5
        found = self.continuity()
        while found is None and time.time() < deadline:
            time.sleep(0.2)
            found = self.continuity()
        if found is None:
            raise DriverFailure("node1 does not count on from node0: node0's last lines %r, "
                                "node1's first %r" % (self.console_lines("node0")[-3:],
                                                      self.console_lines("node1")[:3]))
        first1, last0 = found
        self.wait_tick("node1", first1 + 2)
        self.notes.append("node1 goes on at tick %d (node0's last %d)" % (first1, last0))

    def listed(self):
        """`list --json` as sorted (vm, node, state) rows (a VM being migrated is listed on
        both nodes); a dead node makes it exit 69, the rows of the others still come."""
        code, out, err = self.cli("list", "--json", check=False, timeout=60)
        if code not in (0, 69):
            raise DriverFailure("list: exit %d: %s" % (code, err))
        return sorted((row["name"], row["node"], row["state"])
                      for row in first_json(out)["machines"])

    def run(self, console=None):
        self.held = []
        try:
            return super().run(console)
        finally:
            for proc in self.held:  # a held migration the case did not get to resume
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()

    def node_up(self, extra_env=None):
        """`node up --count 2` (1 CPU, 128 MiB each); its time. (Two cases starting nodes
        at once once lost a host port to each other: the CLI now picks another.)"""
        env = dict(os.environ, PEREGRINE_HOME=self.home, **(extra_env or {}))
        start = time.time()
        proc = subprocess.run([CLI, "node", "up", "--count", "2", "--cpus", "1", "--memory",
                               "128M", "--wait", "150"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, timeout=200,
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise DriverFailure("node up: exit %d: %s" % (proc.returncode,
                                                          proc.stderr.decode()[-800:]))
        return time.time() - start

    def free_memory(self):
        """Each answering node's free memory (`nodes --json` exits 69 with a dead one)."""
        code, out, err = self.cli("nodes", "--json", check=False, timeout=60)
        if code not in (0, 69):
            raise DriverFailure("nodes: exit %d: %s" % (code, err))
        return {node["name"]: (node.get("report") or {}).get("free_memory")
                for node in first_json(out)["nodes"]}

    def pid(self, node):
        with open(os.path.join(self.home, "nodes.json")) as f:
            table = json.load(f)
        for record in table["nodes"]:
            if record["name"] == node:
                return record["pid"]
        raise DriverFailure("no pid for %s in nodes.json" % node)

    def kill_node(self, node):
        pid = self.pid(node)
        os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)  # not our child: raises, harmless
            except ChildProcessError:
                pass
            try:
                with open("/proc/%d/stat" % pid) as f:
                    if f.read().split(") ")[1].startswith("Z"):
                        return
            except (FileNotFoundError, IndexError):
                return
            time.sleep(0.1)
        raise DriverFailure("%s's QEMU (pid %d) did not die" % (node, pid))

    def held_migration(self, vm, target, round=0, extra_env=None):
        """Starts `migrate VM --to TARGET` held after round ROUND; returns the process once
        it says so on standard error (the lines read so far with it)."""
        env = dict(os.environ, PEREGRINE_HOME=self.home,
                   PEREGRINE_MIGRATION_PAUSE_AFTER_ROUND=str(round), **(extra_env or {}))
        proc = subprocess.Popen([CLI, "migrate", vm, "--to", target], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        self.held.append(proc)
        seen = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = proc.stderr.readline().decode()
            if not line:
                break
            seen.append(line)
            if "paused after round %d" % round in line:
                return proc, seen
        proc.kill()
        out, err = proc.communicate()
        raise DriverFailure("migrate never held after round 0: %s%s%s" % (
            "".join(seen), err.decode()[-400:], out.decode()[-400:]))

    def resume(self, vm, proc, seen):
        """Lets the held migration go on; its exit status, output and error text."""
        resume = os.path.join(self.home, "migrations", vm + ".resume")
        with open(resume, "w"):
            pass
        out, err = proc.communicate(timeout=60)
        return proc.returncode, out.decode(), "".join(seen) + err.decode()


class TargetDiesDriver(FaultDriver):
    def drive(self):
        notes = self.notes
        notes.append("node up --count 2: %.1f s" % self.node_up())
        self.cli("create", self.profile("tick"), "--node", "node0")
        self.wait_tick("node0", 1)

        # A target without room: a filler on node1 leaves less than tick's 16 MiB and its
        # page tables. Refused before anything moves.
        free = self.free_memory()["node1"]
        self.cli("create", self.profile("filler", free // (1 << 20) - 10), "--node", "node1")
        code, _, err = self.cli("migrate", "tick", "--to", "node1", check=False)
        if code != 77 or "free" not in err or "nothing moved" not in err:
            raise DriverFailure("migrate to a full node: exit %d: %s" % (code, err))
        if self.listed() != [("filler", "node1", "running"), ("tick", "node0", "running")]:
            raise DriverFailure("the refused migration moved something: %r" % self.listed())
        notes.append("no room: %s" % err.strip().splitlines()[0])
        self.cli("destroy", "filler")

        # Held after round 0: a second migration of the same VM is refused by the lock.
        proc, seen = self.held_migration("tick", "node1")
        listed = self.listed()
        if listed != [("tick", "node0", "running"), ("tick", "node1", "incoming")]:
            raise DriverFailure("during the migration: %r" % listed)
        notes.append("listed while held: %r" % listed)
        code, _, err = self.cli("migrate", "tick", "--to", "node1", check=False)
        if code != 77 or "already under way" not in err:
            raise DriverFailure("a concurrent second migrate: exit %d: %s" % (code, err))
        notes.append("concurrent migrate: %s" % err.strip().splitlines()[0])

        # The target dies between round 0 and the next.
        self.kill_node("node1")
        before = self.ticks("node0")[-1]
        start = time.time()
        code, out, err = self.resume("tick", proc, seen)
        failed_in = time.time() - start
        if code == 0 or "failed on the target" not in err or "keeps running on its node" not in err:
            raise DriverFailure("migrate to a dead target: exit %d: %s%s" % (code, out, err))
        if "dirty log could not be stopped" in err or "could not be unpaused" in err:
            raise DriverFailure("the source was not left clean: %s" % err)
        notes.append("target killed: exit %d after %.1f s: %s" % (
            code, failed_in, err.strip().splitlines()[-1][:300]))
        self.wait_tick("node0", before + 3)
        # A dead node costs the listing one short timeout (docs/cli.md, "A node that does
        # not answer"), not the 7.75 s of other requests.
        start = time.time()
        code, _, err = self.cli("list", "--json", check=False, timeout=60)
        took = time.time() - start
        if code != 69 or "node1 did not answer within 3.8 s" not in err or took > 7:
            raise DriverFailure("list with node1 dead: exit %d after %.1f s: %s" % (
                code, took, err))
        notes.append("list with node1 dead: exit 69 after %.1f s" % took)
        if self.listed() != [("tick", "node0", "running")]:
            raise DriverFailure("after the target died: %r" % self.listed())
        lock = os.path.join(self.home, "migrations", "tick.lock")
        if os.path.exists(lock):
            raise DriverFailure("the lock file was left behind")

        # node1 again; a migration to it works: the source's dirty log was stopped (a `start`
        # on a log that is on is refused) and nothing else was left claimed.
        start = time.time()
        self.cli("node", "up", "--count", "2", "--cpus", "1", "--memory", "128M", "--wait", "150",
                 timeout=200)
        notes.append("node1 restarted: %.1f s" % (time.time() - start))
        start = time.time()
        report = json.loads(self.cli("migrate", "tick", "--to", "node1", "--json", timeout=120)[1])
        notes.append("migrate after the failure: %.1f s wall, downtime %.2f s, pages per round %r"
                     % (time.time() - start, report["downtime_seconds"],
                        report["pages_per_round"]))
        self.check_moved_to_node1()
        self.cli("node", "down")
        return []


class SourceDiesDriver(FaultDriver):
    def restore_refused(self, name, data, reason):
        path = os.path.join(self.home, name + ".ckpt")
        with open(path, "wb") as f:
            f.write(bytes(data))
        code, _, err = self.cli("restore", path, "--node", "node1", "--name", "copy", check=False)
        if code != 66 or reason not in err or "nothing was sent" not in err:
            raise DriverFailure("restore of %s: exit %d: %s" % (name, code, err))
        self.notes.append("%s: %s" % (name, err.strip().splitlines()[0]))

    def sections(self, data):
        """{kind: (offset, length)} from the checkpoint's table (docs/checkpoint.md)."""
        count = int.from_bytes(data[10:12], "little")
        table = {}
        for index in range(count):
            entry = 32 + index * 56
            kind = int.from_bytes(data[entry:entry + 4], "little")
            table[kind] = (int.from_bytes(data[entry + 8:entry + 16], "little"),
                           int.from_bytes(data[entry + 16:entry + 24], "little"))
        return table

    def drive(self):
        notes = self.notes
        self.node_up()
        self.cli("create", self.profile("tick"), "--node", "node0")
        self.wait_tick("node0", 1)

        # Damaged checkpoints of a real VM: each refused with the reason, nothing created.
        checkpoint = os.path.join(self.home, "tick.ckpt")
        self.cli("checkpoint", "tick", checkpoint, timeout=120)
        with open(checkpoint, "rb") as f:
            data = f.read()
        table = self.sections(data)
        header = bytearray(data)
        header[16] ^= 0x01  # the file size the header declares
        self.restore_refused("header-flipped", header, "its header says")
        for kind, name, words in ((3, "state-flipped", "the saved state section does not match"),
                                  (4, "memory-flipped", "the memory section does not match")):
            offset, length = table[kind]
            damaged = bytearray(data)
            damaged[offset + length // 2] ^= 0x20
            self.restore_refused(name, damaged, words)
        self.restore_refused("truncated", data[:len(data) - 4096], "truncated")
        if self.listed() != [("tick", "node0", "running")]:
            raise DriverFailure("a refused restore created something: %r" % self.listed())

        # The source dies between round 0 and the next.
        free = self.free_memory()["node1"]
        proc, seen = self.held_migration("tick", "node1")
        # `status` names the VM's node, not its incoming copy on the target.
        status = json.loads(self.cli("status", "tick", "--json")[1])
        if (status["node"], status["status"]["summary"]["state"]) != ("node0", "running"):
            raise DriverFailure("status while held: %r" % status)
        self.kill_node("node0")
        start = time.time()
        code, out, err = self.resume("tick", proc, seen)
        failed_in = time.time() - start
        if code == 0 or "failed on the source" not in err or \
                "the incoming VM on the target was destroyed" not in err:
            raise DriverFailure("migrate from a dead source: exit %d: %s%s" % (code, out, err))
        notes.append("source killed: exit %d after %.1f s: %s" % (
            code, failed_in, err.strip().splitlines()[-1][:300]))
        listed = self.listed()
        if listed:
            raise DriverFailure("after the source died: %r" % listed)
        after = self.free_memory()["node1"]
        if after != free:
            raise DriverFailure("node1's free memory %r before, %r after" % (free, after))
        notes.append("node1: no VM, free memory back (%d bytes)" % after)
        self.cli("node", "down")
        return []


class PassthroughDriver(FaultDriver):
    def drive(self):
        notes = self.notes
        port = free_udp_port()
        self.node_up({"PEREGRINE_NODE_QEMU_ARGS": cases_passthrough.spare_nic_node_args(port)})
        path = os.path.join(self.home, "owner.xml")
        with open(path, "w") as f:
            f.write(PASSTHROUGH_PROFILE % ("owner", TICKER))
        self.cli("create", path, "--node", "node0")
        self.wait_tick("node0", 1, vm="owner")
        status = json.loads(self.cli("status", "owner", "--json")[1])
        if status["status"].get("passthrough") != ["0000:00:11.0"]:
            raise DriverFailure("owner does not own 00:11.0: %r" % status)

        code, _, err = self.cli("migrate", "owner", "--to", "node1", check=False)
        if code != 77 or "passed-through PCI function 0000:00:11.0" not in err or \
                "nothing moved" not in err:
            raise DriverFailure("migrate of a VM with a passed-through function: exit %d: %s"
                                % (code, err))
        notes.append("migrate refused: %s" % err.strip().splitlines()[0][:300])
        checkpoint = os.path.join(self.home, "owner.ckpt")
        code, _, err = self.cli("checkpoint", "owner", checkpoint, check=False)
        if code != 77 or "passed-through PCI function 0000:00:11.0" not in err or \
                os.path.exists(checkpoint):
            raise DriverFailure("checkpoint of a VM with a passed-through function: exit %d: %s"
                                % (code, err))
        notes.append("checkpoint refused: %s" % err.strip().splitlines()[0][:120])
        # The node's own guard, behind the CLI's: with the recorded profile replaced by one
        # without the function, the CLI lets the migration start and the node refuses the
        # dirty log (DMA writes would be missing from it); the incoming copy on node1 goes.
        recorded = os.path.join(self.home, "profiles", "owner.xml")
        with open(recorded, "w") as f:
            f.write((cases_management.PROFILE % ("owner", TICKER)))
        code, _, err = self.cli("migrate", "owner", "--to", "node1", check=False, timeout=120)
        if code == 0 or "invisible to the dirty log" not in err or \
                "the incoming VM on the target was destroyed" not in err:
            raise DriverFailure("migrate past the CLI's check: exit %d: %s" % (code, err))
        notes.append("node's refusal: %s" % err.strip().splitlines()[-1][:300])
        before = self.ticks("node0", "owner")[-1]
        self.wait_tick("node0", before + 2, vm="owner")
        if self.listed() != [("owner", "node0", "running")]:
            raise DriverFailure("after the refusals: %r" % self.listed())
        self.cli("node", "down")
        return []


class CLIDiesDriver(FaultDriver):
    """The CLI killed (SIGKILL) in the stop phase, the VM paused on node0 and its copy
    incoming on node1: with leases of 10 s (PEREGRINE_MIGRATION_LEASE_SECONDS, test-only) the
    nodes undo their sides by themselves (docs/migration.md, "A CLI that dies")."""

    # Renewed every 2 s while held: 10 s leaves room for a CLI or node slowed by a loaded
    # host (5 s lapsed once while held, with the machine's 2 cores at a load of ~15).
    LEASE = 10

    def drive(self):
        notes = self.notes
        self.node_up()
        self.cli("create", self.profile("tick"), "--node", "node0")
        self.wait_tick("node0", 1)
        free = self.free_memory()["node1"]

        # The ticker's round 0 leaves a handful of dirty pages: round 1 is the stop and copy.
        proc, _ = self.held_migration("tick", "node1", round=1,
                                      extra_env={"PEREGRINE_MIGRATION_LEASE_SECONDS":
                                                 str(self.LEASE)})
        listed = self.listed()
        if listed != [("tick", "node0", "paused"), ("tick", "node1", "incoming")]:
            raise DriverFailure("held in the stop phase: %r" % listed)
        notes.append("held in the stop phase: %r" % listed)
        # Held: the CLI renews the leases (every 2 s), so they outlive their length.
        time.sleep(self.LEASE + 3)
        if self.listed() != listed:
            raise DriverFailure("a held migration's leases lapsed: %r" % self.listed())
        paused_at = self.ticks("node0")[-1]
        proc.kill()
        proc.wait()
        killed = time.time()
        lock = os.path.join(self.home, "migrations", "tick.lock")
        if not os.path.exists(lock):
            raise DriverFailure("the killed CLI's lock file is missing")

        # Each node on its own: node0 stops the log and resumes tick, node1 destroys the
        # copy that never started and gets its memory back.
        deadline = killed + self.LEASE + 25
        while time.time() < deadline:
            if self.listed() == [("tick", "node0", "running")] and \
                    self.free_memory()["node1"] == free:
                break
            time.sleep(0.5)
        else:
            raise DriverFailure("after the CLI died: %r, node1 free %r (before %r)" % (
                self.listed(), self.free_memory()["node1"], free))
        notes.append("nodes clean %.1f s after the kill (lease %d s)" % (
            time.time() - killed, self.LEASE))
        for node, words in (("node0", "migration lease lapsed (no word from the CLI): dirty "
                                      "log stopped, resumed"),
                            ("node1", "migration lease lapsed (no word from the CLI): incoming "
                                      "copy destroyed")):
            if words not in self.serial(node):
                raise DriverFailure("%s's log does not say %r" % (node, words))
        ticks = self.wait_tick("node0", paused_at + 3)
        notes.append("node0 ticks on: %d after %d at the pause" % (ticks[-1], paused_at))

        # A new migration: the dead CLI's lock is taken over, `dirtyLog start` is not refused
        # (the log is off), node1 has room and no VM of that name.
        report = json.loads(self.cli("migrate", "tick", "--to", "node1", "--json",
                                     timeout=120)[1])
        notes.append("migrate after: downtime %.2f s, pages per round %r" % (
            report["downtime_seconds"], report["pages_per_round"]))
        if os.path.exists(lock):
            raise DriverFailure("the lock file was left behind")
        self.check_moved_to_node1()
        self.cli("node", "down")
        return []


def cases():
    return [
        Case("qemu-svm-management-migration-faults-target", "host", cases_management.ISO, [],
             timeout=300, driver=TargetDiesDriver()),
        Case("qemu-svm-management-migration-faults-source", "host", cases_management.ISO, [],
             timeout=300, driver=SourceDiesDriver()),
        Case("qemu-svm-management-migration-faults-cli", "host", cases_management.ISO, [],
             timeout=300, driver=CLIDiesDriver(), waits=True),
        Case("qemu-svm-management-migration-faults-passthrough", "host", cases_management.ISO,
             [], timeout=300, driver=PassthroughDriver()),
    ]
