"""The fault-tolerance daemon against real nodes (docs/fault-tolerance.md, issue 15 part
4): `node up --count 2` boots two AMD-V nodes under QEMU; `ft run --once` sees both
nodes healthy and does nothing; corrected machine-check errors are injected into node0's
bank 1 (QEMU's `mce`, as in cases_node_health) and a ticker VM is created on node0; `ft run
--policy threshold --once` and `--policy rate --once` count them per bank from the nodes'
history; `--policy none` does nothing; `--policy threshold --once` migrates the VM to
node1, the healthy node with room, through `peregrine migrate`'s own code (the 16 MiB flat
ticker moves in a few seconds), and `list` and `status` then show it running on node1 and
node0 without it. `--policy rate --once` afterwards still counts node0's errors but has
nothing left to move. With node1's QEMU killed, node1 is dead.
"""

import json
import os
import signal
import time

from harness import DriverFailure, Case
import cases_cluster
import cases_management

ISOS = {}
INJECTED = 4


class FaultToleranceDriver(cases_cluster.ClusterDriver):
    def ft_once(self, policy, expect):
        code, out, err = self.cli("ft", "run", "--policy", policy, "--once", "--json",
                                  check=False, timeout=60)
        if code != expect:
            raise DriverFailure("ft run --policy %s --once: exit %d, expected %d: %s%s"
                                % (policy, code, expect, out[-400:], err[-400:]))
        return json.loads(out)

    def drive(self):
        notes = self.notes
        self.cli("node", "up", "--count", "2", "--cpus", "1", "--memory", "256M", "--wait", "150",
                 timeout=200)
        step = self.ft_once("threshold", 0)
        nodes = {node["name"]: node for node in step["nodes"]}
        if nodes["node0"]["condition"] != "healthy" or nodes["node1"]["condition"] != "healthy" \
                or step["actions"]:
            raise DriverFailure("before injection: %r" % step)

        counted = self.inject_counted("node0", 1, INJECTED)
        if counted != INJECTED:
            raise DriverFailure("node0 counted %d errors, %d injected" % (counted, INJECTED))
        # The VM comes after the errors: a node of one CPU polls its banks only when that
        # CPU is in the hypervisor, which a running ticker rarely lets it be
        # (docs/node-health.md); the node's history keeps the errors.
        profile = os.path.join(self.home, "tick.xml")
        with open(profile, "w") as f:
            f.write(cases_management.PROFILE % ("tick", cases_management.TICKER))
        self.cli("create", profile, "--node", "node0", timeout=60)

        if self.ft_once("none", 0)["actions"]:
            raise DriverFailure("do-nothing acted")
        start = time.time()
        step = self.ft_once("threshold", 0)
        elapsed = time.time() - start
        node0 = {node["name"]: node for node in step["nodes"]}["node0"]
        if node0["corrected_errors_by_bank"].get("1") != INJECTED:
            raise DriverFailure("threshold: node0's errors per bank: %r" % node0)
        actions = step["actions"]
        if len(actions) != 1 or actions[0]["vm"] != "tick" \
                or not actions[0]["action"].startswith("migrate tick from node0 to node1") \
                or actions[0]["result"] != "done" \
                or actions[0]["detail"] != "tick now runs on node1":
            raise DriverFailure("threshold: actions %r" % actions)
        notes.append("threshold: %s -> %s (ft run %.1f s wall)"
                     % (actions[0]["action"], actions[0]["detail"], elapsed))
        rows = self.json("list")["machines"]
        if [(row["name"], row["node"], row["state"]) for row in rows] \
                != [("tick", "node1", "running")]:
            raise DriverFailure("after the migration: list %r" % rows)
        status = self.json("status", "tick")
        if status.get("node") != "node1" or status["status"]["summary"].get("state") != "running":
            raise DriverFailure("after the migration: status %r" % status)
        machines = {n["name"]: (n.get("report") or {}).get("machines")
                    for n in self.json("nodes")["nodes"]}
        if machines.get("node0") or machines.get("node1") != ["tick"]:
            raise DriverFailure("after the migration: machines per node %r" % machines)
        notes.append("list/status/nodes: tick running on node1, node0 has none")

        step = self.ft_once("rate", 0)
        node0 = {node["name"]: node for node in step["nodes"]}["node0"]
        if node0["corrected_errors_by_bank"].get("1") != INJECTED or step["actions"] \
                or node0["vms"]:
            raise DriverFailure("rate after the migration: %r" % step)
        notes.append("rate: node0 still degraded, nothing left to move")

        pid = [n for n in self.json("nodes")["nodes"] if n["name"] == "node1"][0]["pid"]
        os.kill(pid, signal.SIGKILL)
        time.sleep(1)
        step = self.ft_once("threshold", 0)
        nodes = {node["name"]: node for node in step["nodes"]}
        if nodes["node1"]["condition"] != "dead" or step["actions"]:
            raise DriverFailure("with node1 dead: %r" % step)
        notes.append("node1 killed: dead, no action")
        self.cli("node", "down")
        return []


def cases():
    return [
        Case("qemu-svm-management-ft-daemon", "host", cases_management.ISO, [],
             timeout=300, driver=FaultToleranceDriver()),
    ]
