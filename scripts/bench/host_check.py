"""What the bench's host checks share (test_net_cost.py, test_bench_nvme.py,
test_round_trip.py): a list of failures that a check adds to, and the saved console lines of
scripts/bench/testdata/."""

import os

TESTDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata")


class Failures(list):
    """What failed, in the words of each check."""

    def expect(self, condition, what):
        if not condition:
            self.append(what)


def sample(name):
    """A file of testdata/, whole."""
    with open(os.path.join(TESTDATA, name), encoding="utf-8") as f:
        return f.read()
