#!/usr/bin/env python3
"""Turns the exit trace a VM printed on Peregrine's console back into a trace file.

    scripts/extract-trace.py LOG OUT [--vm NAME] [--first N]

LOG is a console log holding "PGXT BEGIN vm=NAME ... bytes=N crc32=0x..." then base64
lines "PGXT <data>" and "PGXT END vm=NAME" (docs/exit-trace.md). The bytes are checked
against the BEGIN line's length and CRC-32 and against the file's own header (magic,
version, payload length, payload CRC-32) before OUT is written. With several traces in the
log, --vm picks one; OUT is then that VM's file. --first N keeps only the first N records
(a prefix of a trace is a trace: the count, length and CRC-32 are rewritten). Exit status 1
with the reason otherwise.
"""
import argparse
import base64
import binascii
import re
import struct
import sys
import zlib

BEGIN = re.compile(
    r"PGXT BEGIN vm=(\S+) format=(\d+) records=(\d+) bytes=(\d+) crc32=0x([0-9a-fA-F]+)")


def traces(lines):
    """Yields (name, records, data, declared length, declared crc) for each complete trace."""
    current = None
    for line in lines:
        start = line.find("PGXT ")
        if start < 0:
            continue
        text = line[start:].strip()
        match = BEGIN.match(text)
        if match:
            current = (match.group(1), int(match.group(3)), [], int(match.group(4)),
                       int(match.group(5), 16))
            continue
        if current is None:
            continue
        if text.startswith("PGXT END"):
            name, records, lines_of_trace, length, crc = current
            chunks = []
            for number, data in lines_of_trace:
                try:
                    chunks.append(base64.b64decode(data, validate=True))
                except binascii.Error as error:
                    raise SystemExit(
                        f"extract-trace: {name}'s trace line {number} is damaged: {error}")
            yield name, records, b"".join(chunks), length, crc
            current = None
            continue
        current[2].append((len(current[2]) + 1, text[5:]))
    if current is not None:
        raise SystemExit(f"extract-trace: {current[0]}'s trace has no END line (log cut short?)")


def check(name, data, length, crc):
    if len(data) != length:
        return f"{len(data)} bytes, the BEGIN line says {length}"
    if zlib.crc32(data) != crc:
        return f"CRC-32 {zlib.crc32(data):08x}, the BEGIN line says {crc:08x}"
    if len(data) < 14 or data[:4] != b"PGXT":
        return "not a trace file (magic)"
    version, payload_length, payload_crc = struct.unpack_from("<HII", data, 4)
    if version != 2:
        return f"format version {version}, this script reads 2"
    if payload_length != len(data) - 14 or zlib.crc32(data[14:]) != payload_crc:
        return "the file's own length or CRC-32 does not match its payload"
    return None


def first_records(data, count):
    """The file with only its first `count` records (format 2, docs/exit-trace.md)."""
    position = 14 + 1 + 1 + 8 + 8
    # name, memory size, vCPUs, two flags, kind, a flag, clock rate, clock at build
    position += 1 + data[position] + 8 + 2 + 4 + 8 + 8
    total, = struct.unpack_from("<I", data, position)
    end = position + 4
    for _ in range(min(count, total)):
        length, = struct.unpack_from("<I", data, end)
        end += 4 + length
    payload = bytearray(data[14:end])
    struct.pack_into("<I", payload, position - 14, min(count, total))
    return data[:4] + struct.pack("<HII", 2, len(payload), zlib.crc32(payload)) + bytes(payload)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log")
    parser.add_argument("out")
    parser.add_argument("--vm", help="the VM whose trace to extract")
    parser.add_argument("--first", type=int, help="keep only the first N records")
    arguments = parser.parse_args()
    with open(arguments.log, errors="replace") as log:
        found = [t for t in traces(log) if arguments.vm is None or t[0] == arguments.vm]
    if not found:
        sys.exit("extract-trace: no complete trace in " + arguments.log)
    if len(found) > 1:
        names = ", ".join(t[0] for t in found)
        sys.exit(f"extract-trace: several traces ({names}): choose one with --vm")
    name, records, data, length, crc = found[0]
    problem = check(name, data, length, crc)
    if problem:
        sys.exit(f"extract-trace: {name}'s trace is damaged: {problem}")
    if arguments.first is not None:
        data = first_records(data, arguments.first)
        records = min(records, arguments.first)
    with open(arguments.out, "wb") as out:
        out.write(data)
    print(f"extract-trace: {name}: {records} records, {len(data)} bytes -> {arguments.out}")


if __name__ == "__main__":
    main()
