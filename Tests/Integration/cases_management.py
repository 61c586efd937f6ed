"""The control plane end to end (docs/control-protocol.md, docs/cli.md): a node booted under
QEMU with a modern virtio-net NIC on user-mode networking, UDP forwarded to its control port
7100, and a cluster key on its command line, driven from the host by the `peregrine` CLI
(build/bin/peregrine, `make cli`) with a state directory of the test's own, and by this
file's own implementation of the datagram format (HMAC-SHA-256 from Python's hmac) for the
refusals the CLI cannot make and for the round-trip time.

The cycle: nodes; create a flat guest from an XML profile (its image sent by chunked
transfer); status; pause (its console stops), unpause (it goes on); console; destroy;
create another in its place; then refusals, each changing nothing: a wrong key (no
answer: the CLI says the node did not answer), a replayed request (refused `replayed`,
and a captured destroy sent again is answered from the cache, not executed), a malformed
profile (refused by the CLI before anything is sent), a name in use (refused by the node);
the node's free memory after the last destroy equals what it was before the first create;
power off through the protocol. The key never appears on the console.
"""

import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

from harness import Case, DriverFailure

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ISO = "build/test/management.iso"
KEY = "5eed" * 16
CLI = os.path.join(ROOT, "build", "bin", "peregrine")
TICKER = os.path.join(ROOT, "build", "guests", "management", "management-ticker.bin")
HELLO = os.path.join(ROOT, "build", "guests", "examples", "hello.bin")
TICKER_INTERVAL = 0x10000000  # TSC cycles between the ticker's lines (management-ticker.asm)
# ticker2's image: the ticker padded with zeros to this size, to time a bulk transfer.
PADDED_SIZE = 512 * 1024

ISOS = {
    ISO: {"cmdline": "loglevel=info ip=10.0.2.15/24 gw=10.0.2.2 cluster_key=" + KEY,
          "stay_up": True, "modules": []},
}

LISTENING = r"^\[info \] control: listening on udp 7100, boot epoch from the TSC"

PROFILE = """<?xml version="1.0"?>
<profile>
  <name>%s</name>
  <type>peregrine</type>
  <memory unit="MiB">16</memory>
  <flat load="0x1000" entry="0000:1000">%s</flat>
</profile>
"""

HELLO_PROFILE = """<?xml version="1.0"?>
<profile>
  <name>hello</name>
  <memory unit="MiB">8</memory>
  <flat load="0x7c00" entry="0000:7c00">%s</flat>
</profile>
"""

BAD_PROFILE = """<?xml version="1.0"?>
<profile>
  <name>broken</name>
  <memory unit="MiB">16</memory>
  <colour>blue</colour>
  <flat load="0x1000" entry="0000:1000">%s</flat>
</profile>
"""

NIC_PROFILE = """<?xml version="1.0"?>
<profile>
  <name>nicvm</name>
  <memory unit="MiB">16</memory>
  <nic1><mac>00:02:03:04:05:06</mac></nic1>
  <flat load="0x1000" entry="0000:1000">%s</flat>
</profile>
"""

def saved_state(status):
    """`status VM --state --json`'s sections, by title."""
    sections = status["status"].get("saved_state")
    if not sections:
        raise DriverFailure("no saved state in %r" % (status,))
    return {section["title"]: section for section in sections}


def field(section, name):
    for entry in section["fields"]:
        if entry["name"] == name:
            return entry["value"]
    raise DriverFailure("no field %s in %r" % (name, section))


def check_ticker_state(driver, vm, ticks):
    """A paused ticker's state: RIP in its code, real mode (CR0.PE clear), the UART having
    sent at least the `ticks` lines the console showed before the pause, the debug-exit port
    and the test MMIO device there; and the text form."""
    sections = saved_state(driver.json("status", vm, "--state"))
    vcpu = sections.get("vcpu 0")
    if vcpu is None or "uart (COM1)" not in sections or "debug exit port" not in sections \
            or "test mmio" not in sections:
        raise DriverFailure("state sections: %r" % sorted(sections))
    # Its code: the image loaded at 0x1000 (real mode, CS = 0).
    code = (0x1000, 0x1000 + os.path.getsize(TICKER))
    rip, cs_base = field(vcpu, "rip"), field(vcpu, "cs.base")
    if not code[0] <= cs_base + rip < code[1]:
        raise DriverFailure("the paused ticker's RIP %#x (CS base %#x) is outside its code %r"
                            % (rip, cs_base, code))
    if field(vcpu, "cr0") & 1 or "mode: real mode" not in vcpu["notes"]:
        raise DriverFailure("the ticker is not in real mode: %r" % (vcpu,))
    if field(sections["vcpu 0"], "rflags") & 2 != 2:
        raise DriverFailure("RFLAGS bit 1 is clear: %r" % (vcpu,))
    if field(sections["uart (COM1)"], "transmitted") < len("tick 1\n") * ticks:
        raise DriverFailure("the UART sent nothing: %r" % (sections["uart (COM1)"],))
    text = driver.cli("status", vm, "--state")[1]
    if not re.search(r"^  vcpu 0\n    rip +0x[0-9a-f]{16}\n", text, re.MULTILINE) \
            or "    mode: real mode" not in text:
        raise DriverFailure("status --state text: %s" % text)
    driver.notes.append("state of paused %s: rip %#x, %d bytes sent by its UART" % (
        vm, rip, field(sections["uart (COM1)"], "transmitted")))


def check_state_refused_while_running(driver, vm):
    code, out, err = driver.cli("status", vm, "--state", check=False)
    if code != 77 or "pause the VM first" not in err:
        raise DriverFailure("status --state of a running VM: exit %d: %s%s" % (code, out, err))


# Message kinds and the header (docs/control-protocol.md, "Datagrams").
NODE_INFO, CREATE, STATUS, PAUSE, UNPAUSE, DESTROY, CONSOLE_READ, POWER_OFF = 1, 2, 4, 5, 6, 7, 8, 9
INVALID_STATE, NOT_SUPPORTED, INVALID_PROFILE = 9, 19, 6
PAUSED_STATE = 3  # VMState.paused
TRANSFER_BEGIN, TRANSFER_CHUNK, TRANSFER_END = 10, 11, 12
HEADER = struct.Struct(">4sBBBBIHHQQ")
PROTOCOL_VERSION = 5  # DatagramHeader.currentVersion


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RawClient:
    """Requests sealed here, byte for byte as the protocol says."""

    def __init__(self, port, key):
        self.port = port
        self.key = key
        self.client_id = 0x7E570001
        self.sequence = int(time.time() * 1e6)
        self.epoch = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(1.0)

    def seal(self, kind, payload=b"", sequence=None):
        if sequence is None:
            self.sequence += 1
            sequence = self.sequence
        header = HEADER.pack(b"PGCP", PROTOCOL_VERSION, kind, 0, 0, self.client_id, len(payload), 0, self.epoch,
                             sequence)
        body = header + payload
        return body + hmac.new(self.key, body, hashlib.sha256).digest()

    def exchange(self, datagram, attempts=3):
        """The response's (status, payload after the status byte), or None."""
        for _ in range(attempts):
            self.sock.sendto(datagram, ("127.0.0.1", self.port))
            try:
                data = self.sock.recv(2048)
            except socket.timeout:
                continue
            fields = HEADER.unpack(data[:32])
            length = fields[6]
            body, tag = data[:32 + length], data[32 + length:]
            if not hmac.compare_digest(tag, hmac.new(self.key, body, hashlib.sha256).digest()):
                raise DriverFailure("a response with a bad tag")
            if fields[3] & 1 == 0:
                raise DriverFailure("a response without the response flag")
            self.epoch = fields[8]
            payload = body[32:]
            return payload[0], payload[1:]
        return None

    def request(self, kind, payload=b""):
        answer = self.exchange(self.seal(kind, payload))
        if answer and answer[0] == 2:  # stale epoch: sealed again with the node's
            answer = self.exchange(self.seal(kind, payload))
        return answer


def raw_transfer(raw, name, image, window=16):
    """Sends `image` as the protocol's bulk transfer, `window` chunks in flight; returns
    the seconds it took from begin to the checked commit."""
    start = time.perf_counter()
    digest = hashlib.sha256(image).digest()
    # Name, size, SHA-256, sparse (0: every chunk is sent).
    answer = raw.request(TRANSFER_BEGIN, name_payload(name) + struct.pack(">Q", len(image)) + digest + b"\x00")
    if answer is None or answer[0] != 0:
        raise DriverFailure("transfer begin: %r" % (answer,))
    transfer_id, chunk_size = struct.unpack(">IH", answer[1])
    offsets = list(range(0, len(image), chunk_size))
    pending = {}  # sequence -> (offset, datagram, sent at)
    raw.sock.settimeout(0.05)

    def send(offset):
        chunk = image[offset:offset + chunk_size]
        datagram = raw.seal(TRANSFER_CHUNK, struct.pack(">IQH", transfer_id, offset, len(chunk)) + chunk)
        pending[raw.sequence] = (offset, datagram, time.perf_counter())
        raw.sock.sendto(datagram, ("127.0.0.1", raw.port))

    while offsets or pending:
        while offsets and len(pending) < window:
            send(offsets.pop(0))
        try:
            data = raw.sock.recv(2048)
        except socket.timeout:
            for sequence, (offset, datagram, sent) in list(pending.items()):
                if time.perf_counter() - sent > 0.25:
                    raw.sock.sendto(datagram, ("127.0.0.1", raw.port))
                    pending[sequence] = (offset, datagram, time.perf_counter())
            continue
        sequence = HEADER.unpack(data[:32])[9]
        if sequence in pending:
            if data[32] != 0:
                raise DriverFailure("a chunk was refused: status %d" % data[32])
            del pending[sequence]
    raw.sock.settimeout(1.0)
    answer = raw.request(TRANSFER_END, struct.pack(">I", transfer_id))
    if answer is None or answer[0] != 0 or answer[1][-32:] != digest:
        raise DriverFailure("transfer end: %r" % (answer,))
    return time.perf_counter() - start


def name_payload(name):
    return bytes([len(name)]) + name.encode()


def create_payload(name, image, memory, nics=(), disk=""):
    """A flat guest loaded at 0x1000 (docs/control-protocol.md, kind 2): not incoming, no
    passthrough functions (version 5's two trailing fields)."""
    command_line = b"load=0x1000 entry=0000:1000"
    return (name_payload(name) + bytes([0]) + struct.pack(">QHB", memory, 1, 0) + bytes([0])
            + name_payload(image) + bytes([0]) + struct.pack(">H", len(command_line))
            + command_line + bytes([len(nics)]) + b"".join(nics) + name_payload(disk)
            + bytes([0, 0]))


class ManagementDriver:
    def __init__(self):
        self.port = free_udp_port()
        self.home = None
        self.notes = []

    def qemu_args(self):
        return []

    def env(self):
        return {"PEREGRINE_NET": "user,hostfwd=udp:127.0.0.1:%d-:7100" % self.port,
                "PEREGRINE_CPUS": "2"}

    def cli(self, *args, home=None, check=True, timeout=60):
        env = dict(os.environ, PEREGRINE_HOME=home or self.home)
        proc = subprocess.run([CLI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env, timeout=timeout, stdin=subprocess.DEVNULL)
        out, err = proc.stdout.decode(), proc.stderr.decode()
        if check and proc.returncode != 0:
            raise DriverFailure("peregrine %s: exit %d: %s%s" % (" ".join(args), proc.returncode,
                                                                 out, err))
        return proc.returncode, out, err

    def json(self, *args):
        return json.loads(self.cli(*args, "--json")[1])

    def make_home(self, key):
        home = tempfile.mkdtemp(prefix="peregrine-mgmt-")
        with open(os.path.join(home, "cluster.key"), "w") as f:
            f.write(key + "\n")
        os.chmod(os.path.join(home, "cluster.key"), 0o600)
        # As `node up` records a node: the emulator's pid and ISO (the CLI checks that this
        # process still runs that ISO before it asks the node).
        table = {"version": 1, "nodes": [{
            "name": "node0", "backend": "svm", "pid": self.emulator_pid(), "hostPort": self.port,
            "address": "10.0.2.15/24", "iso": os.path.join(ROOT, ISO), "log": "",
            "startedAt": "2026-01-01T00:00:00Z"}]}
        with open(os.path.join(home, "nodes.json"), "w") as f:
            json.dump(table, f)
        return home

    def emulator_pid(self):
        """The QEMU process forwarding this driver's port."""
        marker = ("hostfwd=udp:127.0.0.1:%d-" % self.port).encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if b"qemu-system" in cmdline and marker in cmdline:
                return int(entry)
        raise DriverFailure("no QEMU process forwards port %d" % self.port)

    def node_row(self):
        rows = self.json("nodes")["nodes"]
        if len(rows) != 1:
            raise DriverFailure("nodes listed %r" % rows)
        return rows[0]

    def status(self, vm):
        return self.json("status", vm)

    def raw_state(self, raw, vm):
        """The VM's state byte from a status answer (summary: id u16, name, state u8)."""
        answer = raw.request(STATUS, name_payload(vm) + bytes([0]) + struct.pack(">I", 0))
        if answer is None or answer[0] != 0:
            raise DriverFailure("status %s: %r" % (vm, answer))
        return answer[1][2 + 1 + len(vm)]

    def pause_right_after_unpause(self, raw, vm, rounds=20):
        """Pause, unpause, and pause again at once, before the vCPUs' CPUs have looked: the
        second pause is taken or refused as "still resuming", and never leaves the VM
        pausing for good (a vCPU still parked from the first pause parks no more)."""
        refused = 0
        for _ in range(rounds):
            for command in (PAUSE, UNPAUSE, PAUSE):
                while True:
                    answer = raw.request(command, name_payload(vm))
                    if answer is not None and answer[0] == INVALID_STATE and b"resuming" in answer[1]:
                        refused += 1
                        time.sleep(0.005)
                        continue
                    if answer is None or answer[0] != 0:
                        raise DriverFailure("%d on %s: %r" % (command, vm, answer))
                    break
                if command == PAUSE:
                    deadline = time.time() + 10
                    while self.raw_state(raw, vm) != PAUSED_STATE:
                        if time.time() > deadline:
                            raise DriverFailure("%s stayed pausing after a pause right after "
                                                "an unpause" % vm)
                        time.sleep(0.01)
            answer = raw.request(UNPAUSE, name_payload(vm))
            if answer is None or answer[0] != 0:
                raise DriverFailure("unpause %s: %r" % (vm, answer))
        self.notes.append("pause right after unpause: %d rounds, %d refused as still resuming"
                          % (rounds, refused))

    def wait_state(self, vm, state, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.status(vm)
            if json.dumps(found).find('"state": "%s"' % state) >= 0:
                return found
            time.sleep(0.2)
        raise DriverFailure("%s never reached state %s: %r" % (vm, state, found))

    def ticks(self, console, vm):
        return len(re.findall(r"^\[%s\] tick \d+$" % vm, console.text(), re.MULTILINE))

    def wait_gone(self, vm, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            code, out, _ = self.cli("list", "--json", check=False)
            if code == 0 and vm not in out:
                return
            time.sleep(0.2)
        raise DriverFailure("%s is still listed after destroy" % vm)

    def run(self, console):
        try:
            return self.drive(console)
        finally:
            if self.home:
                shutil.rmtree(self.home, ignore_errors=True)

    def drive(self, console):
        if not os.path.exists(CLI):
            raise DriverFailure("%s is missing: make cli CLI_CONFIGURATION=debug" % CLI)
        console.wait_for(LISTENING, 90)
        self.home = self.make_home(KEY)
        profiles = tempfile.mkdtemp(prefix="peregrine-profiles-", dir=self.home)
        padded = os.path.join(profiles, "ticker-padded.bin")
        with open(TICKER, "rb") as f:
            image = f.read()
        with open(padded, "wb") as f:
            f.write(image + bytes(PADDED_SIZE - len(image)))
        for name, path in (("ticker", TICKER), ("ticker2", padded)):
            with open(os.path.join(profiles, name + ".xml"), "w") as f:
                f.write(PROFILE % (name, path))
        with open(os.path.join(profiles, "hello.xml"), "w") as f:
            f.write(HELLO_PROFILE % HELLO)
        with open(os.path.join(profiles, "bad.xml"), "w") as f:
            f.write(BAD_PROFILE % TICKER)
        with open(os.path.join(profiles, "nicvm.xml"), "w") as f:
            f.write(NIC_PROFILE % TICKER)

        # nodes: the node's CPUs, memory, no VM.
        row = self.node_row()
        text = json.dumps(row)
        if '"cpu_count": 2' not in text:
            raise DriverFailure("nodes: %s" % text)
        # Healthy by the kernel's rule: both CPUs came round their loops, memory is free, no
        # VM has failed (docs/lifecycle.md, "Node health").
        if row.get("health") != "healthy" or row["report"].get("health_problems") != []:
            raise DriverFailure("a fresh node is not healthy: %s" % text)
        free_before = re.search(r'"free_memory": (\d+)', text)
        if not free_before:
            raise DriverFailure("nodes gave no free memory: %s" % text)
        free_before = int(free_before.group(1))

        # Round trip: node info through the raw client (sealed, sent, answered, checked).
        raw = RawClient(self.port, bytes.fromhex(KEY))
        if raw.request(NODE_INFO) is None:
            raise DriverFailure("no answer to node info")
        times = []
        for _ in range(20):
            start = time.perf_counter()
            answer = raw.request(NODE_INFO)
            times.append(time.perf_counter() - start)
            if answer is None or answer[0] != 0:
                raise DriverFailure("node info: %r" % (answer,))
        times.sort()
        self.notes.append("control round trip: median %.2f ms, best %.2f ms" %
                          (times[len(times) // 2] * 1e3, times[0] * 1e3))

        # Bulk transfer as fast as the node takes it (the image is replaced by the CLI's
        # transfer of the same name next, and consumed by the create).
        image = os.urandom(PADDED_SIZE)
        seconds = raw_transfer(raw, "ticker.image", image)
        self.notes.append("raw transfer of %d KiB: %.2f s, %.0f KiB/s" % (
            PADDED_SIZE // 1024, seconds, PADDED_SIZE / 1024 / seconds))

        # create, status, console output.
        self.cli("create", os.path.join(profiles, "ticker.xml"))
        self.wait_state("ticker", "running")
        console.wait_for(r"^\[ticker\] tick 3$", 30)
        # list carries the uptime: at least the 3 ticks' TSC cycles, in the node's own measure
        # of the TSC (its boot log), since the guest counts the same TSC.
        tsc_per_ms = int(console.wait_for(r"TSC at (\d+) per ms", 1).group(1))
        least = 3 * TICKER_INTERVAL / tsc_per_ms / 1000
        listed = self.json("list")
        uptimes = re.findall(r'"uptime_seconds": ([0-9.]+)', json.dumps(listed))
        if len(uptimes) != 1 or float(uptimes[0]) < least * 0.99:
            raise DriverFailure("list gave no uptime of at least %.3f s (3 ticks at %d TSC "
                                "cycles per ms): %s" % (least, tsc_per_ms, json.dumps(listed)))
        self.notes.append("list: ticker up %s s after 3 ticks (at least %.3f s)" %
                          (uptimes[0], least))

        # pause: the ticks stop, and its state can be read; unpause: they go on, and the
        # state is gone with the pause.
        check_state_refused_while_running(self, "ticker")
        self.cli("pause", "ticker")
        self.wait_state("ticker", "paused")
        time.sleep(0.3)
        paused_at = self.ticks(console, "ticker")
        check_ticker_state(self, "ticker", paused_at)
        time.sleep(1.5)
        if self.ticks(console, "ticker") != paused_at:
            raise DriverFailure("the paused VM went on ticking")
        self.cli("unpause", "ticker")
        self.wait_state("ticker", "running")
        check_state_refused_while_running(self, "ticker")
        console.wait_for(r"^\[ticker\] tick %d$" % (paused_at + 2), 20)
        self.pause_right_after_unpause(raw, "ticker")

        # console: what the VM printed, through the protocol (until Ctrl-C).
        env = dict(os.environ, PEREGRINE_HOME=self.home)
        proc = subprocess.Popen([CLI, "console", "ticker"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, stdin=subprocess.DEVNULL)
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        if not re.search(rb"tick 1\ntick 2\n", out) or proc.returncode != 0:
            raise DriverFailure("console: exit %r, %r %r" % (proc.returncode, out[-200:], err))

        # destroy, then another VM in its place.
        self.cli("destroy", "ticker")
        self.wait_gone("ticker")
        start = time.time()
        out = self.cli("create", os.path.join(profiles, "ticker2.xml"))[1]
        seconds = time.time() - start
        self.notes.append("create with a %d KiB image: %.2f s (%.0f KiB/s, the CLI: %s)" % (
            PADDED_SIZE // 1024, seconds, PADDED_SIZE / 1024 / seconds, out.strip()))
        self.wait_state("ticker2", "running")
        console.wait_for(r"^\[ticker2\] tick 2$", 30)
        # The destroyed ticker's console, kept past the next create (the last 4 ended VMs').
        code, out, err = self.cli("console", "ticker", timeout=30)
        if code != 0 or "tick 1\ntick 2\n" not in out or "[ticker has ended]" not in err:
            raise DriverFailure("console of the destroyed ticker: exit %d: %r %r" % (
                code, out[-200:], err))

        # Refusals. A name in use: refused by the CLI (it asks the node first).
        code, out, err = self.cli("create", os.path.join(profiles, "ticker2.xml"), check=False)
        if code == 0 or "ticker2" not in err:
            raise DriverFailure("a second ticker2 was not refused: %d %s" % (code, err))
        # A malformed profile: refused before anything is sent.
        code, out, err = self.cli("create", os.path.join(profiles, "bad.xml"), check=False)
        if code != 65 or "colour" not in err:
            raise DriverFailure("the malformed profile: exit %d: %s" % (code, err))
        # A guest NIC (docs/guest-io.md): created, its MAC on the node's switch. A second VM
        # with the same MAC, sent by the raw client after its image, is refused with the
        # reason, and the image's frames go back (free memory is compared once every VM is
        # gone, below); the first VM's destroy frees the MAC.
        code, out, err = self.cli("create", os.path.join(profiles, "nicvm.xml"), check=False)
        if code != 0:
            raise DriverFailure("the create with a NIC: exit %d: %s" % (code, err))
        with open(TICKER, "rb") as f:
            raw_transfer(raw, "nicvm.image", f.read())
        answer = raw.request(CREATE, create_payload("nicvm2", "nicvm.image", 16 << 20,
                                                    nics=[bytes.fromhex("000203040506")]))
        if answer is None or answer[0] != INVALID_PROFILE or b"MAC" not in answer[1]:
            raise DriverFailure("the node took a second NIC with the same MAC: %r" % (answer,))
        self.cli("destroy", "nicvm")
        # A wrong key: the node drops it; the CLI says the node did not answer.
        wrong = self.make_home("0bad" * 16)
        try:
            start = time.time()
            code, out, err = self.cli("list", home=wrong, check=False)
        finally:
            shutil.rmtree(wrong, ignore_errors=True)
        if code != 69 or "did not answer" not in err:
            raise DriverFailure("a wrong key: exit %d: %s" % (code, err))
        self.notes.append("wrong key: the CLI gave up after %.1f s" % (time.time() - start))
        # A replay: a destroy of an unknown VM, captured, then the same sequence number with
        # another request: refused as replayed; the captured one again: its cached answer.
        captured = raw.seal(DESTROY, name_payload("nobody"))
        first = raw.exchange(captured)
        if first is None or first[0] != 4:
            raise DriverFailure("destroy nobody: %r" % (first,))
        replay = raw.seal(DESTROY, name_payload("ticker2"), sequence=raw.sequence)
        answer = raw.exchange(replay)
        if answer is None or answer[0] != 3:
            raise DriverFailure("a replayed sequence number was not refused: %r" % (answer,))
        again = raw.exchange(captured)
        if again != first:
            raise DriverFailure("a retransmission was not answered from the cache: %r" % (again,))
        self.wait_state("ticker2", "running")
        info = self.node_row()
        refused = json.dumps(info)
        if '"refused_requests": 0' in refused:
            raise DriverFailure("the node counted no refusal: %s" % refused)

        self.cli("destroy", "ticker2")
        self.wait_gone("ticker2")
        # A guest loaded elsewhere (0x7c00) that ends on its own: its console says so.
        self.cli("create", os.path.join(profiles, "hello.xml"))
        console.wait_for(r"^\[hello\] Hello from a flat guest at 0x7c00$", 20)
        self.wait_gone("hello")
        # Its console is still there to read (the CLI finds only listed VMs: the protocol).
        answer = raw.request(CONSOLE_READ, name_payload("hello") + struct.pack(">QH", 0, 1200))
        if answer is None or answer[0] != 0:
            raise DriverFailure("console read of the ended VM: %r" % (answer,))
        offset, length = struct.unpack(">QH", answer[1][:10])
        text = answer[1][10:10 + length]
        written, ended = struct.unpack(">QB", answer[1][10 + length:])
        if offset != 0 or b"Hello from a flat guest" not in text or written != length or ended != 1:
            raise DriverFailure("console read of the ended VM: %r" % (answer,))

        # The last VM gone, every frame is back.
        free_after = int(re.search(r'"free_memory": (\d+)', json.dumps(self.node_row())).group(1))
        if free_after != free_before:
            raise DriverFailure("free memory %d before, %d after" % (free_before, free_after))

        # Power off through the protocol with a VM running: answered, then the VM ends and
        # the node goes.
        self.cli("create", os.path.join(profiles, "ticker.xml"))
        self.wait_state("ticker", "running")
        answer = raw.request(POWER_OFF)
        if answer is None or answer[0] != 0:
            raise DriverFailure("power off: %r" % (answer,))
        for note in self.notes:
            print("management: " + note)
        return [r"^\[info \] control: power off requested$",
                r"^\[info \] node: power off requested: ending every VM$",
                r"^summary: 1 VM ran$"]


LINUX_PROFILE = """<?xml version="1.0"?>
<profile>
  <name>linux</name>
  <type>peregrine</type>
  <memory unit="MiB">256</memory>
  <vcpus>1</vcpus>
  <kernel>%s</kernel>
  <initrd>%s</initrd>
  <cmdline>console=ttyS0 cryptomgr.notests no_timer_check</cmdline>
</profile>
"""


class LinuxManagementDriver(ManagementDriver):
    """The issue's cycle with Debian's kernel: create it from an XML profile (kernel and
    initramfs sent by the CLI), status, pause (its console stops) and unpause, console,
    destroy, and another VM in its place."""

    def drive(self, console):
        if not os.path.exists(CLI):
            raise DriverFailure("%s is missing: make cli CLI_CONFIGURATION=debug" % CLI)
        console.wait_for(LISTENING, 90)
        self.home = self.make_home(KEY)
        profiles = tempfile.mkdtemp(prefix="peregrine-profiles-", dir=self.home)
        linux = os.path.join(profiles, "linux.xml")
        with open(linux, "w") as f:
            f.write(LINUX_PROFILE % (os.path.join(ROOT, "build", "linux", "vmlinuz"),
                                     os.path.join(ROOT, "build", "linux", "initramfs.cpio.gz")))
        ticker = os.path.join(profiles, "ticker.xml")
        with open(ticker, "w") as f:
            f.write(PROFILE % ("ticker", TICKER))
        free_before = int(re.search(r'"free_memory": (\d+)', json.dumps(self.node_row())).group(1))

        start = time.time()
        out = self.cli("create", linux, timeout=120)[1]
        created = time.time()
        console.wait_for(r"^\[linux\] .*Linux version 6\.1\.", 60)
        first_line = time.time()
        self.notes.append("create (%s) then the first console line %.1f s later; %.1f s in all" % (
            out.strip(), first_line - created, first_line - start))
        self.wait_state("linux", "running")

        self.cli("pause", "linux")
        self.wait_state("linux", "paused")
        time.sleep(0.3)
        lines = len(re.findall(r"^\[linux\]", console.text(), re.MULTILINE))
        self.check_linux_state()
        time.sleep(1.5)
        if len(re.findall(r"^\[linux\]", console.text(), re.MULTILINE)) != lines:
            raise DriverFailure("the paused Linux VM went on printing")
        self.cli("unpause", "linux")
        self.wait_state("linux", "running")
        console.wait_for(r"^\[linux\] .*Run /init as init process", 60)

        env = dict(os.environ, PEREGRINE_HOME=self.home)
        proc = subprocess.Popen([CLI, "console", "linux"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, stdin=subprocess.DEVNULL)
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        if b"Run /init as init process" not in out:
            raise DriverFailure("console: exit %r, %r %r" % (proc.returncode, out[-300:], err))

        # It may have reached its init's power-off by now: destroy, or find it gone.
        code, out, err = self.cli("destroy", "linux", check=False)
        if code not in (0, 67):
            raise DriverFailure("destroy linux: exit %d: %s" % (code, err))
        self.wait_gone("linux", timeout=20)
        self.cli("create", ticker)
        self.wait_state("ticker", "running")
        console.wait_for(r"^\[ticker\] tick 2$", 30)
        self.cli("destroy", "ticker")
        self.wait_gone("ticker")
        free_after = int(re.search(r'"free_memory": (\d+)', json.dumps(self.node_row())).group(1))
        if free_after != free_before:
            raise DriverFailure("free memory %d before, %d after" % (free_before, free_after))
        raw = RawClient(self.port, bytes.fromhex(KEY))
        answer = raw.request(POWER_OFF)
        if answer is None or answer[0] != 0:
            raise DriverFailure("power off: %r" % (answer,))
        for note in self.notes:
            print("management: " + note)
        return [r"^\[info \] control: power off requested$"]


    def check_linux_state(self):
        """The paused kernel's state: 64-bit long mode (EFER.LME and LMA, CR0.PE and PG,
        CR4.PAE), RIP in the kernel's upper half; its devices all there."""
        sections = saved_state(self.json("status", "linux", "--state"))
        vcpu = sections.get("vcpu 0")
        wanted = ["vm", "vcpu 0", "local apic 0", "uart (COM1)", "pit (8254)",
                  "acpi power (PM1a)", "io apic", "pci bus 0"]
        if vcpu is None or any(title not in sections for title in wanted) \
                or not any(title.startswith("pci function") for title in sections):
            raise DriverFailure("state sections: %r" % sorted(sections))
        efer, cr0, cr4 = field(vcpu, "efer"), field(vcpu, "cr0"), field(vcpu, "cr4")
        rip = field(vcpu, "rip")
        if efer & 0x500 != 0x500 or cr0 & 0x80000001 != 0x80000001 or not cr4 & 0x20:
            raise DriverFailure("Linux is not in long mode: EFER %#x CR0 %#x CR4 %#x" % (
                efer, cr0, cr4))
        if rip < 0xffff800000000000 or "mode: 64-bit long mode (EFER.LMA)" not in vcpu["notes"]:
            raise DriverFailure("the paused kernel's RIP %#x, notes %r" % (rip, vcpu["notes"]))
        if field(sections["vm"], "memory") != 256 << 20:
            raise DriverFailure("the VM record's memory: %r" % (sections["vm"],))
        self.notes.append("state of paused linux: rip %#x, cr3 %#x, efer %#x, %s" % (
            rip, field(vcpu, "cr3"), efer, [n for n in vcpu["notes"] if "activity" in n][0]))


class BochsManagementDriver(ManagementDriver):
    """Under Bochs (VT-x), through its e1000 on slirp: nodes, create a flat guest that ends
    on its own and read its console, create one that runs, status, pause, unpause,
    destroy, a wrong key, and power off."""

    def env(self):
        return {"PEREGRINE_BOCHS_NET": "hostfwd = udp:127.0.0.1:%d-:7100" % self.port}

    def emulator_pid(self):
        """run-bochs.sh, whose command line names the ISO (as the CLI checks)."""
        iso = os.path.join(ROOT, ISO).encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if b"run-bochs.sh" in cmdline and iso in cmdline:
                return int(entry)
        raise DriverFailure("no run-bochs.sh process runs %s" % ISO)

    def drive(self, console):
        if not os.path.exists(CLI):
            raise DriverFailure("%s is missing: make cli CLI_CONFIGURATION=debug" % CLI)
        console.wait_for(LISTENING, 300)
        self.home = self.make_home(KEY)
        profiles = tempfile.mkdtemp(prefix="peregrine-profiles-", dir=self.home)
        with open(os.path.join(profiles, "hello.xml"), "w") as f:
            f.write(HELLO_PROFILE % HELLO)
        with open(os.path.join(profiles, "ticker.xml"), "w") as f:
            f.write(PROFILE % ("ticker", TICKER))
        free_before = int(re.search(r'"free_memory": (\d+)', json.dumps(self.node_row())).group(1))
        self.cli("create", os.path.join(profiles, "hello.xml"))
        console.wait_for(r"^\[hello\] Hello from a flat guest at 0x7c00$", 60)
        self.wait_gone("hello", timeout=30)
        raw = RawClient(self.port, bytes.fromhex(KEY))
        answer = raw.request(CONSOLE_READ, name_payload("hello") + struct.pack(">QH", 0, 1200))
        if answer is None or answer[0] != 0 or b"Hello from a flat guest" not in answer[1]:
            raise DriverFailure("console read of the ended VM: %r" % (answer,))
        self.cli("create", os.path.join(profiles, "ticker.xml"))
        self.wait_state("ticker", "running", timeout=30)
        self.cli("pause", "ticker")
        self.wait_state("ticker", "paused", timeout=30)
        check_ticker_state(self, "ticker", self.ticks(console, "ticker"))
        self.cli("unpause", "ticker")
        self.wait_state("ticker", "running", timeout=30)
        check_state_refused_while_running(self, "ticker")
        wrong = self.make_home("0bad" * 16)
        try:
            code, out, err = self.cli("list", home=wrong, check=False)
        finally:
            shutil.rmtree(wrong, ignore_errors=True)
        if code != 69:
            raise DriverFailure("a wrong key: exit %d: %s" % (code, err))
        self.cli("destroy", "ticker")
        self.wait_gone("ticker", timeout=30)
        free_after = int(re.search(r'"free_memory": (\d+)', json.dumps(self.node_row())).group(1))
        if free_after != free_before:
            raise DriverFailure("free memory %d before, %d after" % (free_before, free_after))
        answer = raw.request(POWER_OFF)
        if answer is None or answer[0] != 0:
            raise DriverFailure("power off: %r" % (answer,))
        return [r"^\[info \] control: power off requested$"]


def no_key_on_console(output):
    if KEY in output:
        return "the cluster key appeared on the console"
    return None


def cases():
    return [
        Case("qemu-svm-management-cli-cycle", "qemu", ISO,
             [r"^\[info \] command line: loglevel=info ip=10\.0\.2\.15/24 gw=10\.0\.2\.2"
              r" cluster_key=<redacted>$", LISTENING,
              r"^\[info \] node: no VM is running; waiting for commands$"],
             forbid=[r"PANIC", r"refused"], timeout=150, driver=ManagementDriver(),
             verify=no_key_on_console),
        Case("qemu-svm-management-cli-linux", "qemu", ISO,
             [LISTENING, r"^\[linux\] .*Linux version 6\.1\."],
             forbid=[r"PANIC", r"Kernel panic"], timeout=200, driver=LinuxManagementDriver(),
             verify=no_key_on_console),
        Case("bochs-vmx-management-cli-cycle", "bochs", ISO,
             [r"^\[info \] net: e1000 .* up, address 10\.0\.2\.15/24", LISTENING],
             forbid=[r"PANIC"], timeout=400, driver=BochsManagementDriver(),
             verify=no_key_on_console),
    ]
