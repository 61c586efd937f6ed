"""Issue 11's churn check through the control protocol: a node that stays up creates and
destroys a VM 200 times in a row, each time from an image sent by chunked transfer, and its
free memory afterwards, as `peregrine nodes` shows it, equals what it was before. The
requests are sealed by cases_management's own client (the CLI would spend most of the time
starting processes); `nodes` and `list` are read through the CLI.
"""

import json
import os
import re
import struct
import time

from harness import Case, DriverFailure
from cases_management import (ISO, KEY, LISTENING, TICKER, ManagementDriver, RawClient,
                              create_payload, name_payload, no_key_on_console, raw_transfer)

CYCLES = 200
CREATE, STATUS, DESTROY, POWER_OFF = 2, 4, 7, 9
UNKNOWN_VM = 4

ISOS = {}


class ChurnDriver(ManagementDriver):
    def free_memory(self):
        found = re.search(r'"free_memory": (\d+)', json.dumps(self.node_row()))
        if not found:
            raise DriverFailure("nodes gave no free memory")
        return int(found.group(1))

    def wait_unknown(self, raw, name, timeout=10):
        """Until the node no longer knows the VM (its frames returned, its name free)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            answer = raw.request(STATUS, name_payload(name) + bytes([0]) + struct.pack(">I", 0))
            if answer is not None and answer[0] == UNKNOWN_VM:
                return
            time.sleep(0.01)
        raise DriverFailure("%s still known %.0f s after its destroy" % (name, timeout))

    def drive(self, console):
        console.wait_for(LISTENING, 90)
        self.home = self.make_home(KEY)
        before = self.free_memory()
        raw = RawClient(self.port, bytes.fromhex(KEY))
        with open(TICKER, "rb") as f:
            image = f.read()
        start = time.time()
        for cycle in range(CYCLES):
            raw_transfer(raw, "churn.image", image)
            answer = raw.request(CREATE, create_payload("churn", "churn.image", 16 << 20))
            if answer is None or answer[0] != 0:
                raise DriverFailure("create %d: %r" % (cycle, answer))
            if cycle == 0 and self.free_memory() >= before - (16 << 20):
                # The measure must see a VM's memory, or "equal after" proves nothing.
                raise DriverFailure("free memory with a 16 MiB VM: %d, before: %d"
                                    % (self.free_memory(), before))
            answer = raw.request(DESTROY, name_payload("churn"))
            if answer is None or answer[0] != 0:
                raise DriverFailure("destroy %d: %r" % (cycle, answer))
            self.wait_unknown(raw, "churn")
        seconds = time.time() - start
        listed = self.json("list")
        if json.dumps(listed).find('"churn"') >= 0:
            raise DriverFailure("list still shows the VM: %r" % (listed,))
        after = self.free_memory()
        if after != before:
            raise DriverFailure("free memory %d before %d cycles, %d after" % (before, CYCLES, after))
        print("management: %d create/destroy cycles in %.1f s; free memory %d bytes before and after"
              % (CYCLES, seconds, before))
        answer = raw.request(POWER_OFF)
        if answer is None or answer[0] != 0:
            raise DriverFailure("power off: %r" % (answer,))
        return [r"^\[info \] control: power off requested$"]


def cases():
    return [
        Case("qemu-svm-management-200-create-destroy", "qemu", ISO,
             [LISTENING, r"^\[info \] node: no VM is running; waiting for commands$"],
             forbid=[r"PANIC", r"refused"], timeout=300, driver=ChurnDriver(),
             verify=no_key_on_console),
    ]
