#!/usr/bin/env python3
"""Writes the raw seed inputs of every fuzz target to build/fuzz/seeds/<target>/.

The seeds are real inputs: the structures the unit-test fixtures build (multiboot2 blocks,
ACPI tables, bzImage headers; Tests/BootProtocolsTests/*Fixture.swift, rebuilt here byte for
byte), this machine's own ACPI tables when readable, the head of the Debian kernel
(build/linux/vmlinuz: the boot sector and setup code only), the VM profiles of the
integration tests, and every instruction of the test guests (guests/**/*.asm, through NASM
listings). Fuzz/README.md says how they become the committed, minimized corpus.

Usage: Fuzz/make-seeds.py [OUTPUT_DIR]
"""
import os
import re
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else os.path.join(ROOT, "build/fuzz/seeds")


def write(target, name, data):
    folder = os.path.join(OUT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(bytes(data))


le16 = lambda v: struct.pack("<H", v & 0xFFFF)
le32 = lambda v: struct.pack("<I", v & 0xFFFFFFFF)
le64 = lambda v: struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


# ---- VM profiles: every profile string of the integration tests and the Makefile.
def profiles():
    found = set()
    for path in ["Tests/Integration/cases.py", "Makefile"] + [
        os.path.join("Tests/Integration", f)
        for f in os.listdir(os.path.join(ROOT, "Tests/Integration"))
        if f.startswith("cases_") and f.endswith(".py")
    ]:
        text = open(os.path.join(ROOT, path)).read()
        for match in re.finditer(r"(vm name=[^\"';\\)\n]*)", text):
            found.add(match.group(1).rstrip())
    found |= {
        "vm name=a mem=16M cpus=2 load=0x1000 entry=0000:1000 unmapped=ignore storm=off kind=flat",
        "vm name=linux kind=linux mem=256M -- console=ttyS0 earlyprintk=serial,ttyS0,115200",
        "vm name=x mem=0x1000000 cpus=64 -- ",
    }
    for index, line in enumerate(sorted(found)):
        write("vm-profile", "profile-%02d" % index, line.encode())


# ---- Multiboot2 information blocks (Multiboot2Fixture).
class Multiboot2Block:
    def __init__(self):
        self.bytes = bytearray(8)

    def tag(self, type_, body):
        while len(self.bytes) % 8:
            self.bytes.append(0)
        self.bytes += le32(type_) + le32(8 + len(body)) + bytes(body)
        return self

    def string(self, type_, text):
        return self.tag(type_, text.encode() + b"\0")

    def module(self, start, end, line):
        return self.tag(3, le32(start) + le32(end) + line.encode() + b"\0")

    def memory_map(self, entries, entry_size=24):
        body = le32(entry_size) + le32(0)
        for base, length, type_ in entries:
            body += le64(base) + le64(length) + le32(type_) + bytes(entry_size - 20)
        return self.tag(6, body)

    def rsdp_v1(self, rsdt):
        return self.tag(14, b"RSD PTR \0OEMID \0" + le32(rsdt))

    def rsdp_v2(self, xsdt):
        return self.tag(15, b"RSD PTR \0OEMID \x02" + le32(0) + le32(36) + le64(xsdt) + bytes(4))

    def end(self):
        self.tag(0, b"")
        self.bytes[0:4] = le32(len(self.bytes))
        return bytes(self.bytes)


def multiboot2():
    qemu_map = [(0, 0x9FC00, 1), (0x9FC00, 0x400, 2), (0xF0000, 0x10000, 2),
                (0x100000, 0x7EE0000, 1), (0x7FE0000, 0x20000, 2), (0xFFFC0000, 0x40000, 2)]
    grub = (Multiboot2Block().string(1, "loglevel=info selftest").string(2, "GRUB 2.06")
            .module(0x200000, 0x201234, "vm name=real-mode")
            .module(0x300000, 0x3F0000, "vm name=linux kind=linux mem=256M -- console=ttyS0")
            .module(0x400000, 0x4FA000, "initrd vm=linux")
            .memory_map(qemu_map).rsdp_v1(0x7FE1234).rsdp_v2(0x7FE1300).end())
    write("multiboot2", "grub-qemu", grub)
    write("multiboot2", "minimal",
          Multiboot2Block().memory_map([(0, 0x9F000, 1)]).end())
    write("multiboot2", "overlapping-map",
          Multiboot2Block().memory_map([(0x100000, 0x100000, 1), (0x180000, 0x100000, 1),
                                        (0, 0x1000, 2)], entry_size=32).end())
    write("multiboot2", "empty-module",
          Multiboot2Block().module(0x300000, 0x300000, "").rsdp_v1(0xE0000)
          .memory_map([(0, 0x9F000, 1)]).end())


# ---- ACPI (ACPIFixture), laid out as physical memory from 0 with the RSDP at 0.
def checksum(data, index, start=0, end=None):
    data[index] = 0
    data[index] = (-sum(data[start:end])) & 0xFF


def table(signature, body, revision=1):
    data = bytearray(signature.encode() + le32(0) + bytes([revision, 0]) + b"BOCHS "
                     + b"BXPC    " + le32(1) + b"BXPC" + le32(1) + bytes(body))
    data[4:8] = le32(len(data))
    checksum(data, 9)
    return data


def rsdp(rsdt, xsdt=None):
    if xsdt is None:
        data = bytearray(b"RSD PTR \0BOCHS \0" + le32(rsdt))
        checksum(data, 8, 0, 20)
    else:
        data = bytearray(b"RSD PTR \0BOCHS \x02" + le32(rsdt) + le32(36) + le64(xsdt) + bytes(4))
        checksum(data, 8, 0, 20)
        checksum(data, 32, 0, 36)
    return data


def fadt(dsdt, pm1a=0x604, smi=0xB2, enable=0xF1, revision=6, x_dsdt=0, extended_pm1a=None):
    body = bytearray(276)
    body[40:44] = le32(dsdt)
    body[48:52] = le32(smi)
    body[52] = enable
    body[64:68] = le32(pm1a)
    body[112:116] = le32(1 << 10)  # RESET_REG_SUP
    body[116:128] = bytes([1, 8, 0, 1]) + le64(0xCF9)
    body[128] = 6
    body[140:148] = le64(x_dsdt)
    if extended_pm1a is not None:
        body[172:184] = bytes([1, 16, 0, 2]) + le64(extended_pm1a)
    return table("FACP", body[36:], revision=revision)


def pkg_length(count):
    if count + 1 <= 0x3F:
        return bytes([count + 1])
    total = count + 2
    return bytes([0x40 | (total & 0x0F), total >> 4])


def s5(elements, rooted=False):
    body = bytes([len(elements)]) + b"".join(elements)
    return (b"\x08" + (b"\x5C" if rooted else b"") + b"_S5_" + b"\x12" + pkg_length(len(body))
            + body)


PREAMBLE = bytes([0x10, 0x0B, 0x5C, 0x5F, 0x53, 0x42, 0x5F, 0x08, 0x5F, 0x48, 0x49, 0x44, 0x0A,
                  0x01, 0x14, 0x0B, 0x5F, 0x50, 0x54, 0x53, 0x01, 0x70, 0x5F, 0x53, 0x35, 0x5F,
                  0x60])
POSTAMBLE = bytes([0x08, 0x5F, 0x53, 0x34, 0x5F, 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00])


def madt(entries):
    return table("APIC", le32(0xFEE00000) + le32(1) + b"".join(entries), revision=5)


def local_apic(uid, apic_id, flags):
    return bytes([0, 8, uid, apic_id]) + le32(flags)


def memory_image(pieces):
    """pieces: (address, bytes); the image is as long as the furthest piece."""
    size = max(address + len(data) for address, data in pieces)
    image = bytearray(size)
    for address, data in pieces:
        image[address:address + len(data)] = data
    return bytes(image)


def real_table(name):
    try:
        with open("/sys/firmware/acpi/tables/" + name, "rb") as f:
            return bytearray(f.read())
    except OSError:
        return None


def acpi():
    aml = PREAMBLE + s5([b"\x0A\x05", b"\x0A\x05", b"\x00", b"\x00"], rooted=True) + POSTAMBLE
    dsdt = table("DSDT", aml, revision=2)
    apic = madt([local_apic(0, 0, 1), local_apic(1, 1, 1), local_apic(2, 2, 0),
                 bytes([1, 12, 4, 0]) + le32(0xFEC00000) + le32(0),
                 bytes([2, 10, 0, 0]) + le32(2) + le16(0),
                 bytes([5, 12, 0, 0]) + le64(0xFEE00000),
                 bytes([9, 16, 0, 0]) + le32(300) + le32(1) + le32(7)])
    write("acpi-tables", "bochs-v1", memory_image([
        (0, rsdp(0x40)), (0x40, table("RSDT", le32(0x80) + le32(0x200))),
        (0x80, fadt(0x300, revision=1)[:116]), (0x200, apic), (0x300, dsdt)]))
    write("acpi-tables", "qemu-v2", memory_image([
        (0, rsdp(0, xsdt=0x40)), (0x40, table("XSDT", le64(0x80) + le64(0x200))),
        (0x80, fadt(0, x_dsdt=0x300, extended_pm1a=0x604)), (0x200, apic), (0x300, dsdt)]))
    # This machine's firmware tables behind a synthetic RSDP and XSDT, the DSDT moved next
    # to them (RealFirmwareTests does the same).
    real_fadt, real_dsdt, real_apic = real_table("FACP"), real_table("DSDT"), real_table("APIC")
    if real_fadt and real_dsdt and real_apic and len(real_fadt) >= 148:
        dsdt_at = 0x400
        real_fadt[40:44] = le32(dsdt_at)
        real_fadt[140:148] = le64(dsdt_at)
        checksum(real_fadt, 9)
        write("acpi-tables", "this-machine", memory_image([
            (0, rsdp(0, xsdt=0x40)), (0x40, table("XSDT", le64(0x100) + le64(0x300))),
            (0x100, real_fadt), (0x300, real_apic), (dsdt_at, real_dsdt)]))
        write("aml-sleep-state", "this-machine-dsdt", real_dsdt[36:])
    write("aml-sleep-state", "qemu-like", aml)
    write("aml-sleep-state", "words", s5([b"\x0B\x05\x00", b"\x0B\x06\x00", b"\x00", b"\x00"]))
    write("aml-sleep-state", "decoy",
          PREAMBLE + b"\x08_S5_\x0A\x01" + s5([b"\x0A\x02", b"\x0A\x02"]) + POSTAMBLE)
    write("aml-sleep-state", "long-package", s5([b"\x0A\x07"] * 40))


# ---- bzImage headers (BzImageFixture) and the head of the Debian kernel.
def bzimage(setup_sectors=4, version=0x020F, load_flags=1, relocatable=1,
            xloadflags=0x7F, kernel_size=0x1000, preferred=0x1000000, init_size=0x2000000,
            alignment=0x200000, initrd_max=0x7FFFFFFF):
    kernel_offset = ((setup_sectors or 4) + 1) * 512
    image = bytearray(kernel_offset + kernel_size)

    def put(offset, data):
        image[offset:offset + len(data)] = data

    image[0x1F1] = setup_sectors
    put(0x1FA, le16(0xFFFF))
    put(0x1FE, le16(0xAA55))
    put(0x200, bytes([0xEB, 0x6A]))
    put(0x202, b"HdrS")
    put(0x206, le16(version))
    image[0x211] = load_flags
    put(0x214, le32(0x100000))
    put(0x22C, le32(initrd_max))
    put(0x230, le32(alignment))
    image[0x234] = relocatable
    image[0x235] = 21
    put(0x236, le16(xloadflags))
    put(0x238, le32(2047))
    put(0x248, le32(0x100))
    put(0x24C, le32(0x800))
    put(0x258, le64(preferred))
    put(0x260, le32(init_size))
    put(0x264, le32(0x190))
    for index in range(kernel_size):
        image[kernel_offset + index] = index & 0xFF
    return bytes(image)


def bzimages():
    write("bzimage", "debian-like", bzimage())
    write("bzimage", "fixed-address", bzimage(relocatable=0, preferred=0x100000))
    write("bzimage", "below-4g-initrd", bzimage(xloadflags=0x03, initrd_max=0x37FFFFFF))
    write("bzimage", "protocol-2.12", bzimage(version=0x020C, setup_sectors=0))
    vmlinuz = os.path.join(ROOT, "build/linux/vmlinuz")
    if os.path.exists(vmlinuz):
        with open(vmlinuz, "rb") as f:
            head = f.read(0x10000)
        setup = ((head[0x1F1] or 4) + 1) * 512
        # The boot sector and setup code, and the first KiB of the protected-mode kernel.
        write("bzimage", "debian-head", head[:setup + 1024])


# ---- Instructions of the test guests, one seed per instruction, with the width it runs at.
WIDTHS = {"16": 0, "32": 2, "64": 3}
LINE = re.compile(r"^\s*\d+\s+[0-9A-F]{8}\s+([0-9A-F\[\]()]+?)(-?)\s+(?:<\d+>)?(.*)$")
BITS = re.compile(r"^\s*(?:\[\s*)?bits\s+(16|32|64)", re.IGNORECASE)


def instructions():
    seen = set()
    guests = []
    for folder, _, files in os.walk(os.path.join(ROOT, "guests")):
        guests += [os.path.join(folder, f) for f in files if f.endswith(".asm")]
    with tempfile.TemporaryDirectory() as scratch:
        for source in sorted(guests):
            listing = os.path.join(scratch, "out.lst")
            result = subprocess.run(
                ["nasm", "-f", "bin", "-I", os.path.join(ROOT, "guests/include/"), "-l", listing,
                 "-o", os.path.join(scratch, "out.bin"), source], capture_output=True)
            if result.returncode != 0:
                continue
            width, pending = 0, b""
            for line in open(listing, errors="replace"):
                match = LINE.match(line)
                if not match:
                    continue
                hex_bytes, continued, text = match.groups()
                bits = BITS.match(text)
                if bits:
                    width = WIDTHS[bits.group(1)]
                pending += bytes.fromhex(re.sub(r"[\[\]()]", "", hex_bytes))
                if continued or not pending or len(pending) > 15 or re.match(r"\s*d[bwdq]\b", text):
                    if not continued:
                        pending = b""
                    continue
                seen.add((width, pending))
                pending = b""
    for index, (width, code) in enumerate(sorted(seen)):
        write("instruction-decoder", "insn-%04d" % index, bytes([width]) + code)
        # The emulator's input: width, length, bytes, then RAX, RCX (a short REP count),
        # RDX ... R15, RFLAGS, RIP and the device's value.
        registers = [0x1122334455667788, 3] + [0x1000 * n for n in range(2, 16)]
        rest = b"".join(le64(v) for v in registers + [0x2, 0x1000, 0xFEDCBA9876543210])
        write("mmio-emulator", "insn-%04d" % index, bytes([width, len(code)]) + code + rest)


# ---- Control protocol datagrams (docs/control-protocol.md): payloads of every request kind
# and of typical responses, and whole datagrams sealed with the fuzz target's key (the protocol
# version is the code's, `protocol_version()`; as of version 4, node info with machine checks and health history; version 3: VM specifications end with a disk image name, transfer begin with the sparse
# flag; disk read and disk digest, kinds 14 and 15).
def protocol_version():
    """DatagramHeader.currentVersion, read from the code: the seeds follow the wire's version
    without anyone editing this file (a seed of another version is refused at byte 4)."""
    path = os.path.join(ROOT, "Sources/ControlProtocol/Datagram/DatagramHeader.swift")
    with open(path, encoding="utf-8") as f:
        found = re.search(r"static let currentVersion: UInt8 = (\d+)", f.read())
    if not found:
        raise SystemExit("make-seeds.py: no currentVersion in " + path)
    return int(found.group(1))


def prune_stale_datagrams():
    """Removes from the committed control-datagram corpus the datagrams of an earlier protocol
    version ("PGCP" and a version byte below the code's): the receiver refuses them at the
    version check, so they only fuzz that one comparison. `make fuzz-merge` runs this before
    merging the fresh seeds."""
    folder = os.path.join(ROOT, "Fuzz/Corpus/control-datagram")
    version = protocol_version()
    removed = 0
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        with open(path, "rb") as f:
            head = f.read(5)
        if head[:4] == b"PGCP" and len(head) == 5 and 1 <= head[4] < version:
            os.remove(path)
            removed += 1
    print("control-datagram: %d seeds of versions before %d removed" % (removed, version))


def control_datagrams():
    import hashlib
    import hmac

    be16 = lambda v: struct.pack(">H", v)
    be32 = lambda v: struct.pack(">I", v)
    be64 = lambda v: struct.pack(">Q", v)
    name = lambda text: bytes([len(text)]) + text
    digest = hashlib.sha256(b"image").digest()
    spec = (name(b"linux-0") + b"\x01" + be64(256 << 20) + be16(2) + b"\x01" + b"\x02" + be16(0) + be16(1)
            + name(b"vmlinuz") + name(b"initramfs") + be16(13) + b"console=ttyS0"
            + b"\x01" + bytes([2, 0, 0, 0, 0, 1]) + name(b"linux-0.disk"))
    requests = [
        (1, b""), (2, spec), (3, be16(0)), (4, name(b"vm") + b"\x01" + be32(0)), (5, name(b"vm")),
        (6, name(b"vm")), (7, name(b"vm")), (8, name(b"vm") + be64(0) + be16(1200)), (9, b""),
        (10, name(b"vmlinuz") + be64(8 << 20) + digest + b"\x00"), (11, be32(1) + be64(1024) + be16(4) + b"data"),
        (12, be32(1)), (13, be32(1)), (10, name(b"vm.disk") + be64(64 << 20) + digest + b"\x01"),
        (14, name(b"vm") + be64(1 << 20) + be16(1024)), (15, name(b"vm")),
    ]
    responses = [
        b"\x00",
        b"\x00" + be32(1) + be16(1024),
        b"\x00" + be64(2048) + be64(8 << 20),
        b"\x00" + be16(3) + name(b"linux-0") + b"\x01" + be16(2) + be64(256 << 20) + be64(1500),
        b"\x03" + name(b"replayed") + be64(1 << 40),
        b"\x00" + be64(0) + be16(5) + b"hello" + be64(5) + b"\x00",
        b"\x00" + be64(64 << 20) + be64(1 << 20) + be16(4) + b"disk",
        b"\x00" + be64(64 << 20) + digest,
        # Node info (version 4): machine-check counts and a two-entry health history.
        b"\x00" + name(b"0.1") + b"\x01\x01" + be16(2) + be16(1) + be16(2) + be16(1)
        + be64(1 << 30) + be64(1 << 29) + be16(0) + be64(5000) + b"".join(be64(i) for i in range(6))
        + b"\x01" + b"\x04" + be16(1) + be64(5) + be64(5) + be64(0) + b"\x02"
        + be64(4000) + b"\x01" + be16(1) + be64(5) + be64(4100) + b"\x03" + be16(0) + be64(1),
    ]
    key = b"fuzzing cluster key"
    epoch = 0x0102030405060708
    version = protocol_version()
    for index, (kind, payload) in enumerate(requests):
        write("control-datagram", "request-payload-%02d" % index, payload)
        header = (b"PGCP" + bytes([version, kind, 0, 0]) + be32(7) + be16(len(payload)) + be16(0)
                  + be64(epoch) + be64(1000 + index))
        write("control-datagram", "request-%02d" % index, header + payload)
        sealed = header + payload
        write("control-datagram", "sealed-%02d" % index, sealed + hmac.new(key, sealed, hashlib.sha256).digest())
    for index, payload in enumerate(responses):
        write("control-datagram", "response-payload-%02d" % index, payload)


def network():
    """Frames captured from QEMU's slirp (Tests/NetworkProtocolsTests/CapturedFramesTests),
    for the configured stack (first byte 0) and the one waiting for DHCP (1); and QEMU's
    modern virtio-net configuration space with BAR masks."""
    frames = [
        "ffffffffffff52550a0002020806000108000604000152550a0002020a0002020000000000000a00020f",
        "52540012345652550a00020208004500002e00000000401162af0a0002020a00020fd8660007001a47c3"
        "706572656772696e65206361707475726564",
        "52540012345652550a00020208004500001d00010000401162bf0a0002020a00020fd86600070009975d78",
    ]
    for index, frame in enumerate(frames):
        for which in (0, 1):
            write("network-frame", "slirp-%d-%d" % (index, which), bytes([which]) + bytes.fromhex(frame))
    space = bytearray(256)
    def put(offset, value):
        space[offset:offset + 4] = value.to_bytes(4, "little")
    put(0x00, 0x10411AF4); put(0x04, 0x00100007); put(0x08, 0x02000001)
    put(0x14, 0xFEBD1000); put(0x20, 0xFE00000C); put(0x34, 0x98)
    put(0x98, 0x00028411 | 0x84 << 8); put(0x9C, 1); put(0xA0, 0x801)
    for at, nxt, length, kind, offset in ((0x84, 0x70, 0x14, 2, 0x3000), (0x70, 0x60, 0x10, 4, 0x2000),
                                          (0x60, 0x50, 0x10, 3, 0x1000), (0x50, 0x40, 0x10, 1, 0),
                                          (0x40, 0, 0x14, 5, 0)):
        put(at, 0x09 | nxt << 8 | length << 16 | kind << 24); put(at + 4, 4)
        put(at + 8, offset); put(at + 12, 0x1000)
    put(0x84 + 16, 4)
    masks = [0, 0xFFFFF000, 0, 0, 0xFFFFC000, 0xFFFFFFFF]
    write("pci-config", "virtio-net", bytes(space) + b"".join(m.to_bytes(4, "little") for m in masks))


def sriov():
    """QEMU 7.2's NVMe PF with sriov_max_vfs=2 (Tests/PCITests/FakeExpressSpace.swift): ARI
    at 0x100, SR-IOV at 0x120, VF BAR0 64-bit 16 KiB; then its VF BAR masks, q35's MCFG
    entry (0xB0000000, buses 0-255) and a two-entry secondary controller list."""
    space = bytearray(4096)
    def put(offset, value):
        space[offset:offset + 4] = value.to_bytes(4, "little")
    space[0:3] = bytes([0, 4, 0])
    put(0x100, 0x1201000E); put(0x120, 0x00010010); put(0x12C, 0x00020002)
    put(0x134, 0x00010001); put(0x138, 0x00100000); put(0x13C, 0x553); put(0x140, 1)
    put(0x144, 4)
    masks = [0xFFFFC000, 0xFFFFFFFF, 0, 0, 0, 0]
    mcfg = bytearray(44) + (0xB0000000).to_bytes(8, "little") + bytes([0, 0, 0, 255, 0, 0, 0, 0])
    tail = bytearray(128)
    tail[0] = 2; tail[32] = 1; tail[40] = 1; tail[64] = 2; tail[72] = 2
    write("sriov-capability", "qemu-nvme",
          bytes(space) + b"".join(m.to_bytes(4, "little") for m in masks) + bytes(mcfg) + bytes(tail))


def virtqueues():
    """Rings as a Linux virtio driver leaves them (Tests/HypervisorCoreTests/Virtio): an
    8-entry queue with a three-buffer chain, an indirect table, and two chains in flight."""
    def ring(chains, indirect=None, event_index=0):
        ram = bytearray(0x4000)
        def descriptor(table, index, address, length, flags, nxt):
            at = table + 16 * index
            ram[at:at + 16] = le64(address) + le32(length) + le16(flags) + le16(nxt)
        heads = []
        for head, buffers in chains:
            for position, (index, address, length, flags) in enumerate(buffers):
                nxt = buffers[position + 1][0] if position + 1 < len(buffers) else 0
                descriptor(0, index, address, length, flags | (1 if position + 1 < len(buffers) else 0), nxt)
            heads.append(head)
        if indirect:
            table, entries = indirect
            for index, (address, length, flags) in enumerate(entries):
                last = index + 1 == len(entries)
                descriptor(table, index, address, length, flags | (0 if last else 1), 0 if last else index + 1)
        for slot, head in enumerate(heads):
            ram[0x1004 + 2 * slot:0x1006 + 2 * slot] = le16(head)
        ram[0x1002:0x1004] = le16(len(heads))
        return bytes([3, event_index]) + bytes(ram)
    write("virtqueue", "chain-of-three", ring([(3, [(3, 0x3000, 16, 0), (5, 0x3100, 512, 0), (0, 0x3400, 1, 2)])]))
    write("virtqueue", "two-in-flight", ring([(1, [(1, 0x3000, 64, 2)]), (2, [(2, 0x3100, 64, 2)])], event_index=1))
    write("virtqueue", "indirect", ring([(4, [(4, 0x2800, 48, 4)])],
                                        indirect=(0x2800, [(0x3000, 16, 0), (0x3100, 100, 2), (0x3200, 1, 2)])))


def virtio_blk():
    """virtio-blk requests as Linux's driver makes them (Tests/HypervisorCoreTests/Virtio/
    Block): a write of two sectors, a read of one, a flush, GET_ID and a write-zeroes range,
    each header / data / status chain in its own descriptors of a 16-entry queue."""
    ram = bytearray(0x8000)
    requests = [  # (type, sector, readable data, writable data length)
        (1, 3, bytes(range(256)) * 4, 0), (0, 15, b"", 512), (4, 0, b"", 0), (8, 0, b"", 20),
        (13, 0, le64(4) + le32(2) + le32(1), 0),
    ]
    index = 0
    for number, (kind, sector, out, inward) in enumerate(requests):
        base = 0x3000 + number * 0x1000
        ram[base:base + 16] = le32(kind) + le32(0) + le64(sector)
        buffers = [(base, 16, 0)]
        if out:
            ram[base + 0x100:base + 0x100 + len(out)] = out
            buffers.append((base + 0x100, len(out), 0))
        if inward:
            buffers.append((base + 0x100, inward, 2))
        buffers.append((base + 0xFFF, 1, 2))
        head = index
        for position, (address, length, flags) in enumerate(buffers):
            last = position + 1 == len(buffers)
            at = 16 * index
            ram[at:at + 16] = le64(address) + le32(length) + le16(flags | (0 if last else 1)) + le16(0 if last else index + 1)
            index += 1
        ram[0x1004 + 2 * number:0x1006 + 2 * number] = le16(head)
    ram[0x1002:0x1004] = le16(len(requests))
    write("virtio-blk", "five-requests", bytes([4, 0]) + bytes(ram))
    write("virtio-blk", "five-requests-read-only", bytes([4 | 0x80, 1]) + bytes(ram))


if sys.argv[1:] == ["--prune-stale-datagrams"]:
    prune_stale_datagrams()
    sys.exit(0)

profiles()
control_datagrams()
multiboot2()
acpi()
bzimages()
instructions()
network()
sriov()
virtqueues()
virtio_blk()
for target in sorted(os.listdir(OUT)):
    print("%-20s %d seeds" % (target, len(os.listdir(os.path.join(OUT, target)))))
