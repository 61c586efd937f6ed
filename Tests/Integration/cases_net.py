"""The management network (docs/management-network.md): a node with a modern virtio-net NIC
and `ip=` on its command line, reached from the host while it runs.

- Through QEMU's user-mode network, as an operator's host reaches a node: UDP datagrams to
  a forwarded port come back from the node's echo service (`netecho`, port 7), one at a
  time and in a window of 16 in flight; datagrams of random bytes go to the echo port and
  to ports without a service.
- Through a `-netdev socket` link carrying raw Ethernet frames, as another node would: the
  test is the peer. ARP for the node's address, ICMP echo, UDP echo, all built here with
  this file's own checksums; then floods of random frames, random IPv4 packets and UDP
  datagrams with bad checksums or to unbound ports, which must all be counted as dropped,
  after which the node still answers.

A pinned guest spins on CPU 1 throughout: its exits must be its console line's 22
characters and nothing else, so the network adds no exit to a core running a guest. The
run ends through the `nettest` hook (port 9), which prints the network's counters.
"""

import os
import random
import re
import socket
import struct
import time

from harness import Case, DriverFailure

ISO = "build/test/net.iso"
BOCHS_ISO = "build/test/net-bochs.iso"
DHCP_ISO = "build/test/net-dhcp.iso"
PEER_NODE_ISO = "build/test/net-peer-node.iso"
LEASE = r"^\[info \] net: DHCP lease 10\.0\.2\.15/24 gateway 10\.0\.2\.2 from 10\.0\.2\.2 for 86400 s"
NODE_IP = "10.0.2.15"
NODE_MAC = bytes.fromhex("525400123456")
PEER_MAC = bytes.fromhex("5254000000aa")
PEER_IP = "10.0.2.77"

HELLO = "build/guests/examples/hello.bin:vm name=hello load=0x7c00 entry=0000:7c00"
ISOS = {
    DHCP_ISO: {"cmdline": "loglevel=info ip=dhcp netecho nettest", "modules": [
        "build/guests/net/net-spinner.bin:vm name=spinner load=0x7c00 entry=0000:7c00 mem=8M"
        " sched=pinned pin=1",
    ]},
    PEER_NODE_ISO: {"cmdline": "loglevel=info ip=10.0.2.16/24 netecho nettest", "modules": [
        "build/guests/net/net-spinner.bin:vm name=spinner-b load=0x7c00 entry=0000:7c00 mem=8M"
        " sched=pinned pin=1",
    ]},
    "build/test/net-no-nic.iso": {"cmdline": "loglevel=info ip=10.0.2.15/24", "modules": [HELLO]},
    # One CPU under Bochs (two take minutes): the spinner shares CPU 0 with the polled NIC.
    BOCHS_ISO: {"cmdline": "loglevel=info ip=10.0.2.15/24 gw=10.0.2.2 netecho nettest", "modules": [
        "build/guests/net/net-spinner.bin:vm name=spinner load=0x7c00 entry=0000:7c00 mem=8M",
    ]},
    "build/test/net-bad-address.iso": {"cmdline": "loglevel=info ip=10.0.2.300/24 netecho",
                                       "modules": [HELLO]},
    ISO: {"cmdline": "loglevel=info ip=10.0.2.15/24 gw=10.0.2.2 netecho nettest", "modules": [
        "build/guests/net/net-spinner.bin:vm name=spinner load=0x7c00 entry=0000:7c00 mem=8M"
        " sched=pinned pin=1",
    ]},
}

UP = r"^\[info \] net: virtio-net 52:54:00:12:34:56 up, address 10\.0\.2\.15/24 gateway" \
     r" 10\.0\.2\.2, MSI-X vector 64 on cpu 0, udp 7, udp 9"
PCI_LINE = r"^\[info \] pci 00:03\.0 1af4:1041 class 02\.00 bar1 mem 0x\w+\+0x1000 bar4 mem64 pf" \
           r" 0x\w+\+0x4000 caps 11,09,09,09,09,09"
# The spinner has printed its line (22 exits) and spins: counting its exits means something.
# Exactly 22: its CPU gets no message after the adoption that woke it (docs/node-health.md).
SPINNER = r"^net: vm spinner exits so far: 22$"
SPINNING = r"^\[spinner\] net-spinner: spinning"


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def end_run(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"peregrine-nettest-end", ("127.0.0.1", port))


class HostForwardDriver:
    """The host reaches the node through the emulator's user-mode network (slirp) and its
    forwarded ports: QEMU's hostfwd, or Bochs's slirp configuration."""

    WINDOW = 16

    def __init__(self, model=None, bochs=False, single=200, windowed=1000, random_count=200,
                 spinner=SPINNER, ready=r"^\[info \] net: (virtio-net|e1000) 52:54:00:12:34:56 up",
                 other_datagrams=0, counters_tail=""):
        self.echo_port = free_udp_port()
        self.test_port = free_udp_port()
        self.model = model
        self.bochs = bochs
        self.SINGLE, self.WINDOWED, self.RANDOM = single, windowed, random_count
        self.spinner = spinner
        self.ready = ready
        # Datagrams the node takes besides the test's (DHCP's offer and ack), and what the
        # counters line must say after "answered".
        self.other_datagrams = other_datagrams
        self.counters_tail = counters_tail

    def qemu_args(self):
        return []

    def env(self):
        if self.bochs:
            return {"PEREGRINE_BOCHS_NET": "hostfwd = udp:127.0.0.1:%d-:7\nhostfwd = udp:127.0.0.1:%d-:9"
                    % (self.echo_port, self.test_port)}
        env = {"PEREGRINE_NET": "user,hostfwd=udp:127.0.0.1:%d-:7,hostfwd=udp:127.0.0.1:%d-:9"
               % (self.echo_port, self.test_port)}
        if self.model:
            env["PEREGRINE_NET_MODEL"] = self.model
        return env

    def run(self, console):
        console.wait_for(self.ready, 120)
        console.wait_for(SPINNING, 120)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(30.0)
        target = ("127.0.0.1", self.echo_port)
        # One at a time: every datagram answered with its own payload.
        for i in range(self.SINGLE):
            payload = b"peregrine echo %d" % i
            s.sendto(payload, target)
            try:
                data, _ = s.recvfrom(2048)
            except socket.timeout:
                raise DriverFailure("no echo for datagram %d" % i)
            if data != payload:
                raise DriverFailure("datagram %d came back as %r" % (i, data))
        # A window of 16 in flight: the count echoed out of a fixed number.
        rng = random.Random(11)
        sent = received = 0
        outstanding = set()
        s.settimeout(30.0)
        while sent < self.WINDOWED or outstanding:
            while sent < self.WINDOWED and len(outstanding) < self.WINDOW:
                payload = b"w%06d" % sent + bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 1000)))
                s.sendto(payload, target)
                outstanding.add(payload)
                sent += 1
            try:
                data, _ = s.recvfrom(2048)
            except socket.timeout:
                break
            if data in outstanding:
                outstanding.discard(data)
                received += 1
        if received != self.WINDOWED:
            raise DriverFailure("%d of %d windowed datagrams echoed" % (received, self.WINDOWED))
        # Random bytes: to the echo port (answered unchanged), to port 9 (no command: no
        # answer) and to a port the node does not forward.
        for i in range(self.RANDOM):
            payload = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 1400)))
            s.sendto(payload, target)
            data, _ = s.recvfrom(2048)
            if data != payload:
                raise DriverFailure("random datagram %d not echoed unchanged" % i)
            s.sendto(payload, ("127.0.0.1", self.test_port))
        s.close()
        time.sleep(1)
        end_run(self.test_port)
        total = self.SINGLE + self.WINDOWED + self.RANDOM
        return [r"^net: \d+ frames received, \d+ sent, %d datagrams delivered, %d answered%s"
                % (total + self.RANDOM + 1 + self.other_datagrams, total,  # + 1: the end
                   self.counters_tail),
                r"^net: \d+ TSC cycles on cpu 0 in \d+ service passes", self.spinner]


def checksum(data):
    """RFC 1071, written here independently of the node's Swift."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(src, dst, proto, payload, ident=1):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def udp(src, dst, sport, dport, payload, good=True):
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, 8 + len(payload))
    header = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    value = checksum(pseudo + header + payload) or 0xFFFF
    if not good:
        value ^= 0x5A5A
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), value) + payload


def ethernet(dst, src, ethertype, payload):
    return dst + src + struct.pack("!H", ethertype) + payload


class RawFrameDriver:
    """The test is the node's Ethernet peer, over a QEMU socket netdev (each frame one UDP
    datagram between QEMU and this process)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.qemu_port = free_udp_port()

    def qemu_args(self):
        return []

    def env(self):
        return {"PEREGRINE_NET": "socket,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d"
                % (self.sock.getsockname()[1], self.qemu_port)}

    def send(self, frame):
        self.sock.sendto(frame, ("127.0.0.1", self.qemu_port))

    def expect(self, what, predicate, timeout=30.0):
        """The first frame from the node that `predicate` accepts (others are ignored)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.sock.settimeout(max(deadline - time.time(), 0.01))
            try:
                frame, _ = self.sock.recvfrom(4096)
            except socket.timeout:
                break
            if predicate(frame):
                return frame
        raise DriverFailure("no %s from the node" % what)

    def udp_echo(self, payload, sport=40000):
        self.send(ethernet(NODE_MAC, PEER_MAC, 0x0800,
                           ipv4(PEER_IP, NODE_IP, 17, udp(PEER_IP, NODE_IP, sport, 7, payload))))
        frame = self.expect("UDP echo of %r" % payload[:16],
                            lambda f: f[12:14] == b"\x08\x00" and f[23] == 17 and f[42:42 + len(payload)] == payload)
        if frame[0:6] != PEER_MAC:
            raise DriverFailure("echo sent to MAC %s" % frame[0:6].hex())
        ip = frame[14:34]
        if checksum(ip) != 0:
            raise DriverFailure("echo's IPv4 header checksum is wrong")
        segment = frame[34:34 + struct.unpack("!H", frame[38:40])[0]]
        pseudo = ip[12:16] + ip[16:20] + struct.pack("!BBH", 0, 17, len(segment))
        if checksum(pseudo + segment) != 0:
            raise DriverFailure("echo's UDP checksum is wrong")
        if struct.unpack("!HH", segment[0:4]) != (7, sport):
            raise DriverFailure("echo's ports are %r" % (struct.unpack("!HH", segment[0:4]),))

    def counters(self):
        self.send(ethernet(NODE_MAC, PEER_MAC, 0x0800, ipv4(
            PEER_IP, NODE_IP, 17, udp(PEER_IP, NODE_IP, 40009, 9, b"peregrine-nettest-counters"))))
        frame = self.expect("counters", lambda f: b"received=" in f)
        text = frame[42:].split(b"\0")[0].decode()
        return {k: int(v) for k, v in (word.split("=") for word in text.split())}

    def run(self, console):
        console.wait_for(UP, 90)
        console.wait_for(SPINNING, 120)
        # ARP: the node answers for its address with its MAC.
        arp_request = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, PEER_MAC,
                                  socket.inet_aton(PEER_IP), bytes(6), socket.inet_aton(NODE_IP))
        self.send(ethernet(b"\xff" * 6, PEER_MAC, 0x0806, arp_request))
        reply = self.expect("ARP reply", lambda f: f[12:14] == b"\x08\x06")
        op, sender_mac, sender_ip, target_mac, target_ip = struct.unpack("!6xH6s4s6s4s", reply[14:42])
        if (op, sender_mac, sender_ip, target_mac, target_ip) != (
                2, NODE_MAC, socket.inet_aton(NODE_IP), PEER_MAC, socket.inet_aton(PEER_IP)):
            raise DriverFailure("bad ARP reply %s" % reply[14:42].hex())
        # ICMP echo: same identifier, sequence and data, checksum right.
        data = b"peregrine ping data 0123456789"
        icmp = struct.pack("!BBHHH", 8, 0, 0, 0x4242, 1) + data
        icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
        self.send(ethernet(NODE_MAC, PEER_MAC, 0x0800, ipv4(PEER_IP, NODE_IP, 1, icmp)))
        pong = self.expect("ICMP echo reply", lambda f: f[12:14] == b"\x08\x00" and f[23] == 1)
        message = pong[34:34 + 8 + len(data)]
        if message[0] != 0 or struct.unpack("!HH", message[4:8]) != (0x4242, 1) or message[8:] != data \
                or checksum(message) != 0:
            raise DriverFailure("bad ICMP echo reply %s" % message.hex())
        self.udp_echo(b"first datagram over a raw link")
        before = self.counters()
        # Floods, paced so the link loses nothing: every frame must reach the node.
        rng = random.Random(2026)
        garbage = []
        for _ in range(600):  # random bytes, any length an Ethernet link carries
            garbage.append(bytes(rng.getrandbits(8) for _ in range(rng.randrange(14, 1515))))
        for _ in range(300):  # to the node's MAC, IPv4, random contents
            garbage.append(ethernet(NODE_MAC, PEER_MAC, 0x0800,
                                    bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 1500)))))
        for _ in range(100):  # UDP with a bad checksum to the echo port
            garbage.append(ethernet(NODE_MAC, PEER_MAC, 0x0800, ipv4(
                PEER_IP, NODE_IP, 17, udp(PEER_IP, NODE_IP, 40001, 7, b"x" * rng.randrange(1, 500), good=False))))
        for _ in range(100):  # UDP to ports without a service
            garbage.append(ethernet(NODE_MAC, PEER_MAC, 0x0800, ipv4(
                PEER_IP, NODE_IP, 17, udp(PEER_IP, NODE_IP, 40001, rng.choice([1, 8, 10, 4000, 65535]), b"y"))))
        for _ in range(100):  # IPv4 fragments and options
            body = ipv4(PEER_IP, NODE_IP, 17, udp(PEER_IP, NODE_IP, 40001, 7, b"frag"))
            if rng.random() < 0.5:
                body = body[:6] + b"\x20\x00" + body[8:10] + b"\0\0" + body[12:]
            else:
                body = b"\x46" + body[1:10] + b"\0\0" + body[12:20] + b"\x01\x01\x01\x00" + body[20:]
            body = body[:10] + struct.pack("!H", checksum(body[:(body[0] & 0xF) * 4])) + body[12:]
            garbage.append(ethernet(NODE_MAC, PEER_MAC, 0x0800, body))
        rng.shuffle(garbage)
        # Paced by the node itself: after every 32 frames, a counters request whose answer
        # comes once the node has taken everything before it, so no queue overflows.
        queries = 0
        for index, frame in enumerate(garbage):
            self.send(frame)
            if index % 32 == 31:
                self.counters()
                queries += 1
        self.udp_echo(b"still answering after the flood")
        after = self.counters()
        # The counters requests and the echo are the frames that were not dropped.
        received = after["received"] - before["received"]
        dropped = after["dropped"] - before["dropped"]
        if received != len(garbage) + queries + 2 or dropped != len(garbage):
            raise DriverFailure("flood of %d: node received %d frames, dropped %d"
                                % (len(garbage), received, dropped))
        end_run_raw = ethernet(NODE_MAC, PEER_MAC, 0x0800, ipv4(
            PEER_IP, NODE_IP, 17, udp(PEER_IP, NODE_IP, 40009, 9, b"peregrine-nettest-end")))
        self.send(end_run_raw)
        # The counters, then one line per reason in DropReason's order.
        return [r"^net: \d+ frames received, \d+ sent, \d+ datagrams delivered, \d+ answered, 1 ARP"
                r" replies, \d+ ARP requests, 1 ICMP echo replies, %d dropped" % len(garbage),
                r"^net: dropped ipv4-options: \d+$", r"^net: dropped ipv4-fragment: \d+$",
                r"^net: dropped udp-checksum: 100$", r"^net: dropped udp-no-listener: 100$", SPINNER]


class NodeToNodeDriver:
    """Two nodes and the test on one Ethernet segment: a QEMU multicast socket netdev, the
    hub every frame reaches. The harness runs node A (10.0.2.15); this driver starts node B
    (10.0.2.16, its own MAC). Asked by the test, A sends a datagram to B's echo port (its
    ARP finds B), B echoes it to A, and A passes the echo back to the test."""

    GROUP = "230.0.0.1"

    def __init__(self):
        self.port = free_udp_port()
        self.peer_log = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                     "build", "test-logs", "qemu-svm-net-node-to-node.peer.log")

    def qemu_args(self):
        return []

    def netdev(self):
        return "socket,mcast=%s:%d,localaddr=127.0.0.1" % (self.GROUP, self.port)

    def env(self):
        return {"PEREGRINE_NET": self.netdev()}

    def hub(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("", self.port))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                        socket.inet_aton(self.GROUP) + socket.inet_aton("127.0.0.1"))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        return sock

    def run(self, console):
        import subprocess
        from harness import ROOT, LiveConsole
        # Node B's ISO is not a case's, so run.py does not build it: built here (the kernel
        # is already built by then, so this only packs an ISO).
        spec = ISOS[PEER_NODE_ISO]
        built = subprocess.run(["make", "--no-print-directory", "-s", "iso", "ISO=" + PEER_NODE_ISO,
                                "CMDLINE=" + spec["cmdline"], "GUEST_MODULES=" + ";".join(spec["modules"])],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if built.returncode != 0:
            raise DriverFailure("could not build %s: %s" % (PEER_NODE_ISO, built.stdout[-500:]))
        env = dict(os.environ, PEREGRINE_NET=self.netdev(), PEREGRINE_NET_MAC="52:54:00:12:34:57")
        os.makedirs(os.path.dirname(self.peer_log), exist_ok=True)
        with open(self.peer_log, "w") as log:
            peer = subprocess.Popen([os.path.join(ROOT, "scripts", "run-qemu.sh"),
                                     os.path.join(ROOT, PEER_NODE_ISO)],
                                    stdout=log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
        try:
            return self.converse(console, LiveConsole(self.peer_log))
        finally:
            try:
                peer.wait(timeout=30)
            except subprocess.TimeoutExpired:
                peer.kill()
                peer.wait()

    def converse(self, console, peer_console):
        console.wait_for(r"^\[info \] net: virtio-net 52:54:00:12:34:56 up, address 10\.0\.2\.15", 120)
        peer_console.wait_for(r"^\[info \] net: virtio-net 52:54:00:12:34:57 up, address 10\.0\.2\.16", 120)
        console.wait_for(SPINNING, 120)
        peer_console.wait_for(r"^\[spinner-b\] net-spinner: spinning", 120)
        hub = self.hub()
        group = (self.GROUP, self.port)

        def to_node(ip, mac, payload):
            hub.sendto(ethernet(mac, PEER_MAC, 0x0800, ipv4(
                PEER_IP, ip, 17, udp(PEER_IP, ip, 40009, 9, payload))), group)

        # The test's own MAC is learned by A from its ARP request when A answers.
        arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, PEER_MAC,
                          socket.inet_aton(PEER_IP), bytes(6), socket.inet_aton(NODE_IP))
        hub.sendto(ethernet(b"\xff" * 6, PEER_MAC, 0x0806, arp), group)
        to_node(NODE_IP, NODE_MAC, b"peregrine-nettest-relay 10.0.2.16")
        deadline = time.time() + 60
        relayed = None
        while time.time() < deadline and relayed is None:
            hub.settimeout(max(deadline - time.time(), 0.1))
            try:
                frame, _ = hub.recvfrom(4096)
            except socket.timeout:
                break
            if frame[0:6] == PEER_MAC and frame[12:14] == b"\x08\x00" and frame[23] == 17 \
                    and b"relayed: " in frame:
                relayed = frame[42:].split(b"\0")[0]
        if relayed != b"relayed: node to node":
            raise DriverFailure("node A relayed %r from node B" % (relayed,))
        to_node("10.0.2.16", bytes.fromhex("525400123457"), b"peregrine-nettest-end")
        peer_console.wait_for(r"^peregrine: halted, status success", 60)
        peer_text = peer_console.text()
        for pattern in (r"^net: \d+ frames received, \d+ sent, \d+ datagrams delivered, 1 answered, \d+ ARP replies, 0 ARP requests",
                        r"^net: vm spinner-b exits so far: 22$"):
            if not re.search(pattern, peer_text, re.MULTILINE):
                raise DriverFailure("node B's console lacks %r" % pattern)
        to_node(NODE_IP, NODE_MAC, b"peregrine-nettest-end")
        hub.close()
        # A asked for B's MAC (1 ARP request) and answered the test's ARP (1 reply).
        # (more than one request only when an answer took over a second: a loaded machine)
        return [r"^net: \d+ frames received, \d+ sent, \d+ datagrams delivered, \d+ answered,"
                r" 1 ARP replies, [1-9]\d* ARP requests", SPINNER]


def cases():
    hello_ends = [r"^\[hello\] Hello from a flat guest", r"summary: vm hello: stopped by the guest, exit code 0"]
    return [
        Case("qemu-svm-net-no-nic", "qemu", "build/test/net-no-nic.iso",
             [r"^\[error\] net: ip= given, but no NIC with a driver"] + hello_ends,
             forbid=[r"net: (virtio-net|e1000)", r"^\[info \] pci 00:03"], qemu_args=["-nic", "none"]),
        Case("qemu-svm-net-bad-address-refused", "qemu", "build/test/net-bad-address.iso",
             [r"^\[error\] net: ip=/gw= refused: ip= is not a usable A\.B\.C\.D address"] + hello_ends,
             forbid=[r"^\[info \] pci ", r"net: virtio-net"], env={"PEREGRINE_NET": "user"}),
        Case("qemu-svm-net-host-udp-echo", "qemu", ISO, [PCI_LINE, UP], timeout=240,
             forbid=[r"PEREGRINE (PANIC|EXCEPTION)"], driver=HostForwardDriver()),
        Case("qemu-svm-net-node-to-node", "qemu", ISO, [UP], timeout=240,
             forbid=[r"PEREGRINE (PANIC|EXCEPTION)"], driver=NodeToNodeDriver()),
        # ip=dhcp: slirp's DHCP server gives the address; the node then ARPs for 10.0.2.2
        # itself (slirp answers) before its first echo.
        Case("qemu-svm-net-dhcp-host-udp-echo", "qemu", DHCP_ISO,
             [r"^\[info \] net: virtio-net 52:54:00:12:34:56 up, address by DHCP, MSI-X vector 64 on cpu 0,"
              r" udp 68, udp 7, udp 9", LEASE],
             timeout=240, forbid=[r"PEREGRINE (PANIC|EXCEPTION)"],
             driver=HostForwardDriver(single=50, windowed=100, random_count=50, ready=LEASE,
                                      other_datagrams=2, counters_tail=", 0 ARP replies, [1-9]\\d* ARP requests")),
        # The Intel 8254x driver (polled) under QEMU, then under Bochs: a VT-x node reached
        # from the host through Bochs's slirp.
        Case("qemu-svm-net-e1000-host-udp-echo", "qemu", ISO,
             [r"^\[info \] pci 00:03\.0 8086:100e class 02\.00 bar0 mem 0x\w+\+0x20000",
              r"^\[info \] net: e1000 52:54:00:12:34:56 up, address 10\.0\.2\.15/24 gateway 10\.0\.2\.2,"
              r" polled on cpu 0, udp 7, udp 9"],
             timeout=240, forbid=[r"PEREGRINE (PANIC|EXCEPTION)"],
             driver=HostForwardDriver(model="e1000", single=100, windowed=300, random_count=100)),
        Case("bochs-vmx-net-e1000-host-udp-echo", "bochs", BOCHS_ISO,
             [r"^\[info \] pci 00:02\.0 8086:100e class 02\.00 bar0 mem 0x\w+\+0x20000",
              r"^\[info \] net: e1000 52:54:00:12:34:56 up, address 10\.0\.2\.15/24 gateway 10\.0\.2\.2,"
              r" polled on cpu 0, udp 7, udp 9"],
             timeout=240, forbid=[r"PEREGRINE (PANIC|EXCEPTION)"],
             driver=HostForwardDriver(bochs=True, single=50, windowed=200, random_count=50,
                                      spinner=r"^net: vm spinner exits so far: \d+$")),
        Case("qemu-svm-net-raw-frames-and-garbage", "qemu", ISO, [PCI_LINE, UP], timeout=240,
             forbid=[r"PEREGRINE (PANIC|EXCEPTION)"], driver=RawFrameDriver()),
    ]
