#!/usr/bin/env bash
# Fault-tolerance validation (issue 15 item 6; docs/fault-tolerance.md, "Validation"): the
# same small scenario run for real on two emulated AMD-V nodes per policy and in
# `peregrine ft simulate` with the costs measured in that very run; writes
# build/bench/ft-validation.csv (policy,real_completion_s,sim_completion_s,real_lost_s,
# sim_lost_s,completion_error_pct). Wall time under QEMU TCG on a shared host: emulation,
# not hardware. About 4-5 minutes per policy; FT_VALIDATE_POLICIES, _WORK, _INTERVAL,
# _INJECT, _FAIL, _PERIOD change the scenario (scripts/ft-validate.py).
set -euo pipefail
cd "$(dirname "$0")/.."
# The node kernel (build/peregrine.elf) and the ticker guest the ISO target builds.
make --no-print-directory -s iso ISO=build/bench/management.iso CMDLINE="loglevel=info" GUEST_MODULES=
make --no-print-directory cli CLI_CONFIGURATION="${CLI_CONFIGURATION:-release}"
python3 scripts/ft-validate.py
