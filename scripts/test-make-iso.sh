#!/usr/bin/env bash
# Checks that scripts/make-iso.sh refuses a grub.cfg word GRUB cannot read (over 8191
# bytes: GRUB would stop at boot waiting for a key) and passes one at the limit, for the
# kernel command line and for a guest module's line. Prints PASS or FAIL; exits non-zero
# on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
word() { printf 'x=%s' "$(head -c $(($1 - 2)) /dev/zero | tr '\0' a)"; }
guest=build/guests/examples/hello.bin
failures=0
expect() {  # expect accepted|refused WHAT CMDLINE MODULES
  local output status
  output=$(MAKE_ISO_CHECK_ONLY=1 scripts/make-iso.sh build/test/never.iso "$3" "$4" 2>&1)
  status=$?
  if [ "$1" = refused ] && { [ $status -eq 0 ] || ! grep -q "at most 8191 bytes" <<<"$output"; }; then
    echo "      $2: not refused (status $status)"; failures=$((failures + 1))
  elif [ "$1" = accepted ] && [ $status -ne 0 ]; then
    echo "      $2: refused: $output"; failures=$((failures + 1))
  fi
}
expect accepted "a kernel command line word of 8191 bytes" "loglevel=info $(word 8191)" ""
expect refused "a kernel command line word of 8192 bytes" "loglevel=info $(word 8192)" ""
expect accepted "a guest command line word of 8191 bytes" "" \
  "$guest:vm name=a;$guest:vm name=l kind=linux -- console=ttyS0 $(word 8191)"
expect refused "a guest command line word of 8192 bytes" "" \
  "$guest:vm name=a;$guest:vm name=l kind=linux -- console=ttyS0 $(word 8192)"
expect accepted "many short words, 40000 bytes in all" "" \
  "$guest:vm name=l -- $(for i in $(seq 4000); do printf 'opt%d=x ' "$i"; done)"
# A disk module (docs/guest-io.md) must be whole 512-byte sectors.
disk_expect() {  # disk_expect accepted|refused SIZE
  local image=build/test/disk-$2.img output status
  mkdir -p build/test && head -c "$2" /dev/zero > "$image"
  output=$(MAKE_ISO_CHECK_ONLY=1 scripts/make-iso.sh build/test/never.iso "" \
    "$guest:vm name=l kind=linux disk=d;$image:disk vm=d" 2>&1)
  status=$?
  rm -f "$image"
  if [ "$1" = refused ] && { [ $status -eq 0 ] || ! grep -q "512-byte sectors" <<<"$output"; }; then
    echo "      a disk image of $2 bytes: not refused (status $status)"; failures=$((failures + 1))
  elif [ "$1" = accepted ] && [ $status -ne 0 ]; then
    echo "      a disk image of $2 bytes: refused: $output"; failures=$((failures + 1))
  fi
}
disk_expect accepted 4096
disk_expect refused 1000
disk_expect refused 0
if [ $failures -eq 0 ]; then echo "PASS  make-iso refuses grub.cfg words over GRUB's 8191 bytes"; else
  echo "FAIL  make-iso and GRUB's word limit"; fi
[ ! -e build/test/never.iso ] && [ $failures -eq 0 ]
