#!/usr/bin/env bash
# Packs a GRUB multiboot2 ISO: make-iso.sh OUT.iso "KERNEL CMDLINE" "FILE:MODULE CMDLINE;..."
# GRUB talks on the serial port and boots the single entry at once.
set -euo pipefail
out=$1; cmdline=$2; modules=${3:-}

# GRUB's grub.cfg lexer takes words of at most 8191 bytes (YYLMAX 8192 with the NUL; found
# by booting: a word of 8191 boots, 8192 stops GRUB with "fatal error: token too large,
# exceeds YYLMAX" and "Aborted. Press any key to exit." before the hypervisor starts). Every
# word of a module line or the kernel command line is one token, so refuse here what GRUB
# would refuse at boot. (Linux guests take at most cmdline_size bytes anyway, 2047 on x86.)
GRUB_MAXIMUM_WORD=8191
check_words() {  # check_words WHAT LINE
  local word
  for word in $2; do
    if [ ${#word} -gt $GRUB_MAXIMUM_WORD ]; then
      echo "make-iso: $1 has a word of ${#word} bytes (\"${word:0:24}...\"); GRUB takes at most $GRUB_MAXIMUM_WORD bytes per word of grub.cfg and would stop at boot" >&2
      exit 1
    fi
  done
}
set -f  # the words are checked as written, not as file name patterns
check_words "the kernel command line" "$cmdline"
IFS=';' read -ra specs <<< "$modules"
for index in "${!specs[@]}"; do
  spec=${specs[$index]}
  check_words "guest module $((index + 1)) (${spec%%:*})" "${spec#*:}"
done
set +f
# A disk image (`FILE:disk vm=NAME`, docs/guest-io.md) must be whole 512-byte sectors, or the
# hypervisor refuses its VM at boot: say so now.
for spec in "${specs[@]}"; do
  spec=$(echo "$spec" | sed -E 's/^[[:space:]]+//; s/[[:space:]]+$//')
  case "${spec#*:}" in disk\ *) ;; *) continue ;; esac
  file=${spec%%:*}
  size=$(stat -c %s "$file" 2> /dev/null || echo 0)
  if [ "$size" -eq 0 ] || [ $((size % 512)) -ne 0 ]; then
    echo "make-iso: disk image $file is $size bytes, not a whole number of 512-byte sectors" >&2
    exit 1
  fi
done
[ "${MAKE_ISO_CHECK_ONLY:-0}" = 1 ] && exit 0  # scripts/test-make-iso.sh: the checks alone
mkdir -p "$(dirname "$out")"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/boot/grub" "$root/boot/modules"
cp build/peregrine.elf "$root/boot/peregrine.elf"
cp build/peregrine.sym "$root/boot/peregrine.sym"
{
  echo 'serial --unit=0 --speed=115200'
  echo 'terminal_input serial'
  echo 'terminal_output serial'
  echo 'set timeout=0'
  echo 'menuentry "Peregrine" {'
  echo "  multiboot2 /boot/peregrine.elf $cmdline"
  echo '  module2 /boot/peregrine.sym symbols'
  n=0
  for spec in "${specs[@]}"; do
    [ -n "${spec// /}" ] || continue
    spec=$(echo "$spec" | sed -E 's/^[[:space:]]+//; s/[[:space:]]+$//')
    file=${spec%%:*}; rest=${spec#*:}
    [ -f "$file" ] || { echo "make-iso: no such guest image: $file" >&2; exit 1; }
    n=$((n + 1))
    base="$n-$(basename "$file")"
    cp "$file" "$root/boot/modules/$base"
    # GRUB gunzips a gzip module while loading it unless told --nounzip. A Linux initramfs
    # is gzip that Linux unpacks itself, faster than GRUB does under emulation (0.8 s less
    # per boot of the test initramfs under QEMU TCG); other modules load as before.
    case "$rest" in initrd*) unzip=--nounzip ;; *) unzip= ;; esac
    echo "  module2 ${unzip:+$unzip }/boot/modules/$base $rest"
  done
  echo '  boot'
  echo '}'
} > "$root/boot/grub/grub.cfg"
grub-mkrescue -o "$out" "$root" >/dev/null 2>&1 || { echo "grub-mkrescue failed" >&2; grub-mkrescue -o "$out" "$root"; exit 1; }
echo "  ISO     $out"
