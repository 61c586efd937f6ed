"""A virtual cluster over two nodes, driven only by the `peregrine` CLI (docs/cli.md,
"Placing a cluster"): `node up --count 2` boots two AMD-V nodes under QEMU (one CPU each),
`create` refuses a cluster whose third VM fits no node without creating anything, then
places a two-VM cluster profile of flat ticker guests, `list --json` shows them on
different nodes, each node's console shows its VM ticking, `destroy CLUSTER` ends both, and
`nodes --json` shows each node's free memory back where it was; then `node down`.

`qemu-svm-management-cluster-bridge` does the same over `node up --network bridge` (one
Linux bridge, a tap per node) and proves node-to-node reachability: each node relays a
datagram to the other's echo port (docs/management-network.md says what is and is not
proven). Without CAP_NET_ADMIN it is skipped.

The case boots no ISO of the harness's own (emulator "host"): the CLI starts the nodes.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from harness import Case, DriverFailure
import cases_management

ROOT = cases_management.ROOT
CLI = cases_management.CLI
TICKER = cases_management.TICKER

# The management ISO (built by run.py) brings the node kernel, build/peregrine.elf, with it.
ISOS = {}

CLUSTER = """<?xml version="1.0"?>
<cluster>
  <name>pair</name>
  <vm file="ticker.xml" name="tick-a"/>
  <vm file="ticker.xml" name="tick-b"/>
</cluster>
"""


class ClusterDriver:
    def __init__(self):
        self.home = None
        self.notes = []

    def qemu_args(self):
        return []

    def env(self):
        return {}

    def cli(self, *args, check=True, timeout=60):
        env = dict(os.environ, PEREGRINE_HOME=self.home)
        proc = subprocess.run([CLI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env, timeout=timeout, stdin=subprocess.DEVNULL)
        out, err = proc.stdout.decode(), proc.stderr.decode()
        if check and proc.returncode != 0:
            raise DriverFailure("peregrine %s: exit %d: %s%s" % (" ".join(args), proc.returncode,
                                                                 out[-400:], err[-400:]))
        return proc.returncode, out, err

    def json(self, *args):
        return json.loads(self.cli(*args, "--json")[1])

    def free_memory(self):
        nodes = self.json("nodes")["nodes"]
        return {node["name"]: (node.get("report") or {}).get("free_memory") for node in nodes}

    def serial(self, node):
        path = os.path.join(self.home, "nodes", node, "serial.log")
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().replace("\r", "")

    def wait_serial(self, node, pattern, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if re.search(pattern, self.serial(node), re.MULTILINE):
                return
            time.sleep(0.5)
        raise DriverFailure("%s's console never showed %r" % (node, pattern))

    def corrected_machine_checks(self, node):
        rows = {row["name"]: row for row in self.json("nodes")["nodes"]}
        return (rows[node].get("report") or {}).get("corrected_machine_checks", 0)

    def inject_counted(self, node, bank, count, timeout=20):
        """Injects `count` corrected errors one at a time, each after the node counted the
        one before: two between the same two polls of a bank are one error with OVER set, and
        a third is lost outright (SDM 3B §15.3.2.2), so blind spacing fails whenever a loaded
        host delays a poll past the spacing."""
        counted = self.corrected_machine_checks(node)
        for _ in range(count):
            self.cli("node", "inject-mce", node, "--bank", str(bank), "--count", "1", timeout=60)
            deadline = time.time() + timeout
            while self.corrected_machine_checks(node) <= counted:
                if time.time() > deadline:
                    raise DriverFailure("%s never counted error %d of %d within %d s"
                                        % (node, counted + 1, count, timeout))
                time.sleep(0.25)
            counted = self.corrected_machine_checks(node)
        return counted

    def run(self, console=None):
        if not os.path.exists(CLI):
            raise DriverFailure("%s is missing: make cli CLI_CONFIGURATION=debug" % CLI)
        self.home = tempfile.mkdtemp(prefix="peregrine-cluster-")
        try:
            return self.drive()
        finally:
            self.cli("node", "down", check=False)
            shutil.rmtree(self.home, ignore_errors=True)

    def drive(self):
        notes = self.notes
        start = time.time()
        self.cli("node", "up", "--count", "2", "--cpus", "1", "--memory", "256M", "--wait", "150",
                 timeout=200)
        notes.append("node up --count 2: %.1f s" % (time.time() - start))
        before = self.free_memory()
        if sorted(before) != ["node0", "node1"]:
            raise DriverFailure("nodes: %r" % before)
        with open(os.path.join(self.home, "ticker.xml"), "w") as f:
            f.write(cases_management.PROFILE % ("ticker", TICKER))
        cluster = os.path.join(self.home, "pair.xml")
        with open(cluster, "w") as f:
            f.write(CLUSTER)

        # A cluster whose last VM fits no node: refused before anything is created.
        big = os.path.join(self.home, "big.xml")
        with open(big, "w") as f:
            f.write(CLUSTER.replace('name="tick-b"/>', 'name="tick-b"/>\n  <vm><profile><name>huge</name>'
                                    '<memory unit="MiB">250</memory><flat>%s</flat></profile></vm>' % TICKER))
        code, _, err = self.cli("create", big, check=False)
        if code != 77 or "no node can take VM 'huge'" not in err or "nothing was created" not in err:
            raise DriverFailure("a cluster that does not fit: exit %d: %s" % (code, err))
        if self.json("list")["machines"] or self.free_memory() != before:
            raise DriverFailure("the refused cluster changed something")

        start = time.time()
        created = self.json("create", cluster)["created"]
        notes.append("create of the 2-VM cluster: %.1f s" % (time.time() - start))
        placed = {vm["name"]: vm["node"] for vm in created}
        rows = {row["name"]: row["node"] for row in self.json("list")["machines"]}
        if rows != placed or sorted(rows.values()) != ["node0", "node1"]:
            raise DriverFailure("not one VM per node: created %r, listed %r" % (placed, rows))
        for name, node in rows.items():
            self.wait_serial(node, r"^\[%s\] tick 2$" % name, 30)
            if re.search(r"^\[%s\]" % name, self.serial("node1" if node == "node0" else "node0"),
                         re.MULTILINE):
                raise DriverFailure("%s printed on the other node too" % name)

        # A name the cluster already uses: refused before anything is created.
        code, _, err = self.cli("create", cluster, check=False)
        if code != 77 or "tick-a" not in err:
            raise DriverFailure("a second create of the cluster: exit %d: %s" % (code, err))

        out = self.cli("destroy", "pair")[1]
        if "cluster pair: 2 of 2 VM(s) destroyed" not in out:
            raise DriverFailure("destroy pair: %s" % out)
        deadline = time.time() + 20
        while self.json("list")["machines"] and time.time() < deadline:
            time.sleep(0.5)
        after = self.free_memory()
        if after != before:
            raise DriverFailure("free memory before %r, after %r" % (before, after))
        notes.append("free memory back on both nodes: %r" % after)
        self.cli("node", "down")
        return []


def bridge_unavailable():
    """Why `node up --network bridge` cannot run here, or None: it needs CAP_NET_ADMIN (to
    create the bridge and taps), /dev/net/tun and iproute2's `ip`."""
    try:
        with open("/proc/self/status") as f:
            caps = [line.split()[1] for line in f if line.startswith("CapEff:")]
        has_net_admin = bool(caps) and int(caps[0], 16) & (1 << 12) != 0
    except (OSError, ValueError):
        has_net_admin = False
    if not has_net_admin:
        return "bridge networking needs CAP_NET_ADMIN (run as root)"
    if not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        return "/dev/net/tun is not accessible"
    if not (shutil.which("ip") or os.path.exists("/usr/sbin/ip")):
        return "iproute2's ip is not installed"
    return None


class BridgeClusterDriver(ClusterDriver):
    """`node up --count 2 --network bridge`: both nodes on pgbr0 (10.0.3.2 and 10.0.3.3),
    reached at their own addresses; each node makes the other answer (nettest's relay:
    node A sends to node B's echo port, resolving B by ARP on the bridge, and passes the
    answer back); the 2-VM cluster lands one VM per node; `node down` removes the taps and
    the bridge it made."""

    NODES = {"node0": "10.0.3.2", "node1": "10.0.3.3"}

    def ip(self, *args):
        proc = subprocess.run([shutil.which("ip") or "/usr/sbin/ip"] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
        return proc.returncode, proc.stdout.decode()

    def relay(self, via, target, tries=5):
        """Asks node `via` (its nettest port 9) to send a datagram to `target`'s echo port
        and pass back what comes from there."""
        import socket
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(2)
        try:
            for _ in range(tries):  # the node may still be resolving; UDP may drop
                sock.sendto(("peregrine-nettest-relay " + target).encode(), (via, 9))
                try:
                    data, source = sock.recvfrom(2048)
                except socket.timeout:
                    continue
                if source != (via, 9):
                    raise DriverFailure("relay answer from %r, not %s:9" % (source, via))
                return data
            raise DriverFailure("%s never relayed an answer from %s" % (via, target))
        finally:
            sock.close()

    def drive(self):
        notes = self.notes
        existed = self.ip("link", "show", "dev", "pgbr0")[0] == 0
        start = time.time()
        self.cli("node", "up", "--count", "2", "--cpus", "1", "--memory", "256M", "--wait", "150",
                 "--network", "bridge", "--kernel-args", "netecho nettest", timeout=200)
        notes.append("node up --count 2 --network bridge: %.1f s" % (time.time() - start))
        nodes = {node["name"]: node for node in self.json("nodes")["nodes"]}
        seen = {name: (node["host"], node["port"]) for name, node in nodes.items()}
        if seen != {name: (host, 7100) for name, host in self.NODES.items()}:
            raise DriverFailure("nodes --json: %r" % seen)
        if any(not node.get("report") for node in nodes.values()):
            raise DriverFailure("a node did not answer over the bridge: %r" % nodes)
        code, ports = self.ip("-o", "link", "show", "master", "pgbr0")
        if code != 0 or "pgtap0:" not in ports or "pgtap1:" not in ports:
            raise DriverFailure("pgtap0 and pgtap1 are not both on pgbr0: %s" % ports)
        if re.search(r"pgtap[01]:.*state (?!UP)", ports):
            raise DriverFailure("a tap on pgbr0 is not up: %s" % ports)
        if shutil.which("bridge"):  # iproute2's bridge: each port's STP state
            links = subprocess.run(["bridge", "link", "show"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=10).stdout.decode()
            for tap in ("pgtap0", "pgtap1"):
                if not re.search(r"%s:.*master pgbr0 state forwarding" % tap, links):
                    raise DriverFailure("%s is not forwarding on pgbr0: %s" % (tap, links))

        # Node to node, both ways: A resolves B by ARP on the bridge and B's echo answers A.
        for via, target in (("10.0.3.2", "10.0.3.3"), ("10.0.3.3", "10.0.3.2")):
            answer = self.relay(via, target)
            if answer != b"relayed: node to node":
                raise DriverFailure("%s -> %s relayed %r" % (via, target, answer))
        # The answer comes from the peer, not from the relaying node: an address nobody has
        # on the bridge gets none (node0's ARP for it goes unanswered).
        try:
            answer = self.relay("10.0.3.2", "10.0.3.77", tries=2)
            raise DriverFailure("a relay to 10.0.3.77, which no node has, answered %r" % answer)
        except DriverFailure as error:
            if "never relayed" not in str(error):
                raise
        notes.append("node0 <-> node1 over pgbr0: relayed both ways; none from 10.0.3.77")

        before = self.free_memory()
        with open(os.path.join(self.home, "ticker.xml"), "w") as f:
            f.write(cases_management.PROFILE % ("ticker", TICKER))
        cluster = os.path.join(self.home, "pair.xml")
        with open(cluster, "w") as f:
            f.write(CLUSTER)
        created = self.json("create", cluster)["created"]
        rows = {row["name"]: row["node"] for row in self.json("list")["machines"]}
        if sorted(rows.values()) != ["node0", "node1"] or len(created) != 2:
            raise DriverFailure("not one VM per node: %r" % rows)
        for name, node in rows.items():
            self.wait_serial(node, r"^\[%s\] tick 2$" % name, 30)
        self.cli("destroy", "pair")
        deadline = time.time() + 20
        while self.json("list")["machines"] and time.time() < deadline:
            time.sleep(0.5)
        if self.free_memory() != before:
            raise DriverFailure("free memory did not come back: %r" % self.free_memory())

        down = self.json("node", "down")
        expected = ["pgtap0", "pgtap1"] + ([] if existed else ["pgbr0"])
        if down["removed_links"] != expected:
            raise DriverFailure("node down removed %r, not %r" % (down["removed_links"], expected))
        for link in expected:
            if self.ip("link", "show", "dev", link)[0] == 0:
                raise DriverFailure("%s is still there after node down" % link)
        notes.append("node down removed %s" % ", ".join(expected))
        return []


def cases():
    return [
        Case("qemu-svm-management-cluster-two-nodes", "host", cases_management.ISO, [],
             timeout=240, driver=ClusterDriver()),
        Case("qemu-svm-management-cluster-bridge", "host", cases_management.ISO, [],
             timeout=300, driver=BridgeClusterDriver(), skip=bridge_unavailable),
    ]


COUNT = re.compile(r"^\[counter\] COUNT (\d+) ([\d.]+)$", re.MULTILINE)


class CounterDriver(ClusterDriver):
    """A cluster whose Linux guest runs /init's `counter=1` (a line `COUNT n uptime` every
    second, VM name `counter`): the migration and checkpoint cases read its progress."""

    def counts(self, node):
        return [(int(n), float(up)) for n, up in COUNT.findall(self.serial(node))]

    def wait_count(self, node, above, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            counts = self.counts(node)
            if counts and counts[-1][0] > above:
                return counts
            time.sleep(0.5)
        raise DriverFailure("%s's counter never passed %d (last %r)" % (node, above,
                                                                        self.counts(node)[-3:]))
