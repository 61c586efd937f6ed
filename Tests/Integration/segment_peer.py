"""A station on a cluster's data segment (the QEMU multicast hub every node's data NIC joins,
docs/guest-io.md), played by the test: it answers ARP for its own address and pings a guest
every `interval` seconds from a thread, recording each echo reply's sequence number, arrival
time and source MAC, and the reverse-ARP announcements a node sends when a VM arrives. A
migration case uses it to see a guest answer the same pings with the same MAC before and
after the move (issue 15: "its network peers see the same MAC on the new node")."""

import socket
import struct
import threading
import time

from cases_net import checksum, ethernet, ipv4

GROUP = "230.0.0.1"


def data_port(key_hex):
    """The cluster's data segment port, as NodeBoot.dataPort(for:) derives it from the key."""
    key = bytes.fromhex(key_hex)
    return 48000 + ((key[0] << 8 | key[1]) % 2000)


def icmp_echo(kind, ident, seq, payload):
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    value = checksum(header + payload)
    return struct.pack("!BBHHH", kind, 0, value, ident, seq) + payload


class SegmentPeer:
    def __init__(self, port, mac, ip, guest_mac, guest_ip, interval=0.5):
        self.port, self.mac, self.ip = port, mac, ip
        self.guest_mac, self.guest_ip = guest_mac, guest_ip
        self.interval = interval
        self.ident = 0x5047
        self.sent = {}  # seq -> time sent
        self.replies = []  # (seq, time received, source MAC)
        self.arp_answered = 0
        self.announcements = []  # (time received, source MAC) of RARP announcements
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("", port))
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                             socket.inet_aton(GROUP) + socket.inet_aton("127.0.0.1"))
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                             socket.inet_aton("127.0.0.1"))
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        self.sock.settimeout(0.1)
        self.threads = [threading.Thread(target=self.listen, daemon=True),
                        threading.Thread(target=self.ping, daemon=True)]

    def start(self):
        for thread in self.threads:
            thread.start()
        return self

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(5)
        self.sock.close()

    def send(self, frame):
        self.sock.sendto(frame, (GROUP, self.port))

    def ping(self):
        seq = 0
        while not self.stopping.wait(self.interval):
            seq += 1
            with self.lock:
                self.sent[seq] = time.time()
            packet = ipv4(self.ip, self.guest_ip, 1,
                          icmp_echo(8, self.ident, seq, b"peregrine-segment-peer"), ident=seq)
            self.send(ethernet(self.guest_mac, self.mac, 0x0800, packet))

    def listen(self):
        while not self.stopping.is_set():
            try:
                frame, _ = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(frame) < 42 or frame[6:12] == self.mac:
                continue  # too short, or the hub's copy of our own frame
            kind = frame[12:14]
            if kind == b"\x08\x06":
                self.answer_arp(frame)
            elif kind == b"\x80\x35":
                with self.lock:
                    self.announcements.append((time.time(), frame[6:12]))
            elif kind == b"\x08\x00" and frame[23] == 1 and frame[0:6] == self.mac:
                header = (frame[14] & 0xF) * 4
                icmp = frame[14 + header:]
                if len(icmp) >= 8 and icmp[0] == 0:
                    ident, seq = struct.unpack("!HH", icmp[4:8])
                    if ident == self.ident:
                        with self.lock:
                            self.replies.append((seq, time.time(), frame[6:12]))

    def answer_arp(self, frame):
        op, sha, spa, _, tpa = struct.unpack("!6xH6s4s6s4s", frame[14:42])
        if op != 1 or tpa != socket.inet_aton(self.ip):
            return
        reply = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, self.mac,
                            socket.inet_aton(self.ip), sha, spa)
        self.send(ethernet(sha, self.mac, 0x0806, reply))
        with self.lock:
            self.arp_answered += 1

    def replies_between(self, start, end):
        """Replies received in [start, end): (seq, time, MAC)."""
        with self.lock:
            return [r for r in self.replies if start <= r[1] < end]

    def sent_between(self, start, end):
        with self.lock:
            return sorted(seq for seq, at in self.sent.items() if start <= at < end)
