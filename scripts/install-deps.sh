#!/usr/bin/env bash
# Installs the Debian packages Peregrine's build and tests need, idempotently:
# `apt-get update` runs once (only when something is missing), then `apt-get install -y`.
set -euo pipefail

packages=(
  nasm                       # boot code, world switch, interrupt stubs
  grub-pc-bin grub-common    # multiboot2 loader for the ISO
  xorriso mtools             # grub-mkrescue's back ends
  qemu-system-x86            # AMD-V under TCG (-cpu EPYC)
  bochs bochs-term bochsbios vgabios  # Intel VT-x (corei7_skylake_x)
  cpio                       # initramfs for the Linux guest
  gcc libc6-dev              # the initramfs's static C tools (guests/linux/*.c)
  python3-matplotlib         # `make bench` plots (scripts/bench/plots.py), `peregrine ft simulate --plot`
  e2fsprogs                  # mkfs.ext4: `peregrine image create --format ext4`, the virtio-blk test disk
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
