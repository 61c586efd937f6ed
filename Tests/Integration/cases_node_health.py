"""Node health through the CLI (docs/node-health.md, issue 15 part 3): `node up --count 2`
boots two AMD-V nodes under QEMU, each with a monitor socket; `node inject-mce node0`
puts corrected machine-check errors into bank 1 of node0's CPU 0 through QEMU's `mce`
command; node0 polls its banks, counts them, and `nodes --json` shows node0 degraded with
the count and a history entry while node1 stays healthy. Then node1's QEMU is killed and
`nodes` shows it dead (with its last answer) without failing the command.
"""

import os
import re
import signal
import time

from harness import Case, DriverFailure
import cases_cluster
import cases_management

ISOS = {}
INJECTED = 4


class NodeHealthDriver(cases_cluster.ClusterDriver):
    def rows(self):
        return {row["name"]: row for row in self.json("nodes")["nodes"]}

    def drive(self):
        notes = self.notes
        self.cli("node", "up", "--count", "2", "--cpus", "1", "--memory", "256M", "--wait", "150",
                 timeout=200)
        rows = self.rows()
        for name in ("node0", "node1"):
            report = rows[name].get("report") or {}
            if report.get("health") != "healthy" or report.get("corrected_machine_checks") != 0:
                raise DriverFailure("%s before injection: %r" % (name, rows[name]))
        self.wait_serial("node0", r"^\[info \] machine check: \d+ banks per CPU", 5)
        notes.append(re.search(r"machine check: \d+ banks per CPU.*$", self.serial("node0"),
                               re.MULTILINE).group(0))

        start = time.time()
        counted = self.inject_counted("node0", 1, INJECTED)
        if counted != INJECTED:
            raise DriverFailure("node0 counted %d errors, %d injected" % (counted, INJECTED))
        report = self.rows()["node0"].get("report") or {}
        notes.append("%d corrected errors injected and counted in %.1f s"
                     % (INJECTED, time.time() - start))
        if report.get("health") != "degraded":
            raise DriverFailure("node0 not degraded: %r" % report)
        problem = "%d corrected machine-check errors in the last 60 s (bank 1)" % INJECTED
        if problem not in report.get("health_problems", []):
            raise DriverFailure("node0's problems: %r" % report.get("health_problems"))
        kinds = [entry["kind"] for entry in report.get("health_history", [])]
        if "correctedMachineCheck" not in kinds or "becameDegraded" not in kinds:
            raise DriverFailure("node0's history: %r" % report.get("health_history"))
        # Injected one per poll: one line each, none with OVER set.
        lines = re.findall(r"^\[info \] machine check: corrected error on CPU 0 bank 1 .*$",
                           self.serial("node0"), re.MULTILINE)
        logged = sum(2 if "overflow" in line else 1 for line in lines)
        if logged != INJECTED or len(lines) != INJECTED:
            raise DriverFailure("node0 logged %r, expected %d errors" % (lines, INJECTED))
        notes.append("node0 logged %d line(s), %d with overflow"
                     % (len(lines), sum("overflow" in line for line in lines)))
        node1 = self.rows()["node1"].get("report") or {}
        if node1.get("health") != "healthy" or node1.get("corrected_machine_checks") != 0:
            raise DriverFailure("node1 caught it: %r" % node1)

        # Kill node1's emulator: `nodes` shows it dead, the command still succeeds.
        pid = [n for n in self.json("nodes")["nodes"] if n["name"] == "node1"][0]["pid"]
        os.kill(pid, signal.SIGKILL)
        time.sleep(1)
        code, out, err = self.cli("nodes", "--json", check=False)
        if code != 0:
            raise DriverFailure("nodes with node1 dead: exit %d: %s" % (code, err))
        import json
        rows = {row["name"]: row for row in json.loads(out)["nodes"]}
        if not rows["node1"].get("dead") or not rows["node1"].get("last_answer"):
            raise DriverFailure("node1 not shown dead with its last answer: %r" % rows["node1"])
        if rows["node0"].get("dead"):
            raise DriverFailure("node0 shown dead: %r" % rows["node0"])
        notes.append("node1 killed: %s" % rows["node1"]["health"])
        self.cli("node", "down")
        return []


def cases():
    return [
        Case("qemu-svm-management-node-health-mce", "host", cases_management.ISO, [],
             timeout=300, driver=NodeHealthDriver()),
    ]
