#!/usr/bin/env bash
# Runs kvm-unit-tests' x86_64 tests inside Peregrine and on bare QEMU TCG, and prints a table
# (docs/kvm-unit-tests.md). KUT_DIR is a built checkout (./configure --arch=x86_64 && make);
# none of its code is part of this repository.
#   scripts/kvm-unit-tests.sh KUT_DIR
# Environment: KUT_COLUMNS (default "qemu svm vmx": bare QEMU, Peregrine on AMD-V under QEMU
# -cpu EPYC, Peregrine on VT-x under Bochs), KUT_TESTS (substrings of names, or =NAME for
# one name exactly; default every test x86/unittests.cfg lists for x86_64), KUT_TIMEOUT (seconds per run, default 90; Bochs
# gets three times as long), KUT_OUT (logs and ISOs, default build/kut).
set -euo pipefail
[ $# -eq 1 ] && [ -f "$1/x86/unittests.cfg" ] || {
  echo "usage: $0 KUT_DIR   (a built kvm-unit-tests checkout)" >&2
  exit 2
}
cd "$(dirname "$0")/.."
make --no-print-directory -s kernel guests >/dev/null
exec python3 scripts/kvm_unit_tests.py "$(cd "$1" && pwd)"
