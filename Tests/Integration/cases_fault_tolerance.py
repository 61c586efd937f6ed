"""The fault-tolerance daemon against real nodes (docs/fault-tolerance.md, issue 15 part
4): `node up --count 2` boots two AMD-V nodes under QEMU; `ft run --once` sees both
nodes healthy and does nothing; corrected machine-check errors are injected into node0's
bank 1 (QEMU's `mce`, as in cases_node_health) and a ticker VM is created on node0; `ft run
--policy threshold --once` and `--policy rate --once` count them per bank from the nodes'
history and ask to migrate the VM to node1, the healthy node with room; this build has no
live migration, so the action is reported as not available (exit 70) and the VM stays on
node0. `--policy none` does nothing. With node1's QEMU killed, node1 is dead and there is
no target: no action.
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

        self.cli("node", "inject-mce", "node0", "--bank", "1", "--count", str(INJECTED),
                 timeout=60)
        deadline = time.time() + 20
        while True:
            report = {row["name"]: row for row in self.json("nodes")["nodes"]}["node0"]
            if (report.get("report") or {}).get("corrected_machine_checks", 0) >= INJECTED:
                break
            if time.time() > deadline:
                raise DriverFailure("node0 never counted %d errors: %r" % (INJECTED, report))
            time.sleep(0.5)
        # The VM comes after the errors: a node of one CPU polls its banks only when that
        # CPU is in the hypervisor, which a running ticker rarely lets it be
        # (docs/node-health.md); the node's history keeps the errors.
        profile = os.path.join(self.home, "tick.xml")
        with open(profile, "w") as f:
            f.write(cases_management.PROFILE % ("tick", cases_management.TICKER))
        self.cli("create", profile, "--node", "node0", timeout=60)

        if self.ft_once("none", 0)["actions"]:
            raise DriverFailure("do-nothing acted")
        for policy in ("threshold", "rate"):
            step = self.ft_once(policy, 70)
            node0 = {node["name"]: node for node in step["nodes"]}["node0"]
            if node0["corrected_errors_by_bank"].get("1") != INJECTED:
                raise DriverFailure("%s: node0's errors per bank: %r" % (policy, node0))
            actions = step["actions"]
            if len(actions) != 1 or actions[0]["vm"] != "tick" \
                    or not actions[0]["action"].startswith("migrate tick from node0 to node1") \
                    or actions[0]["result"] != "not_available" \
                    or "not available in this build" not in actions[0]["detail"]:
                raise DriverFailure("%s: actions %r" % (policy, actions))
            notes.append("%s: %s -> %s" % (policy, actions[0]["action"], actions[0]["detail"]))
        rows = self.json("list")["machines"]
        if [(row["name"], row["node"]) for row in rows] != [("tick", "node0")]:
            raise DriverFailure("the VM moved anyway: %r" % rows)

        pid = [n for n in self.json("nodes")["nodes"] if n["name"] == "node1"][0]["pid"]
        os.kill(pid, signal.SIGKILL)
        time.sleep(1)
        step = self.ft_once("threshold", 0)
        nodes = {node["name"]: node for node in step["nodes"]}
        if nodes["node1"]["condition"] != "dead" or step["actions"]:
            raise DriverFailure("with node1 dead: %r" % step)
        notes.append("node1 killed: dead, no target left, no action")
        self.cli("node", "down")
        return []


def cases():
    return [
        Case("qemu-svm-management-ft-daemon", "host", cases_management.ISO, [],
             timeout=300, driver=FaultToleranceDriver()),
    ]
