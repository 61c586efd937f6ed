#!/usr/bin/env bash
# Packs a GRUB multiboot2 ISO: make-iso.sh OUT.iso "KERNEL CMDLINE" "FILE:MODULE CMDLINE;..."
# GRUB talks on the serial port and boots the single entry at once.
set -euo pipefail
out=$1; cmdline=$2; modules=${3:-}
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
  IFS=';' read -ra specs <<< "$modules"
  for spec in "${specs[@]}"; do
    [ -n "${spec// /}" ] || continue
    spec=$(echo "$spec" | sed -E 's/^[[:space:]]+//; s/[[:space:]]+$//')
    file=${spec%%:*}; rest=${spec#*:}
    [ -f "$file" ] || { echo "make-iso: no such guest image: $file" >&2; exit 1; }
    n=$((n + 1))
    base="$n-$(basename "$file")"
    cp "$file" "$root/boot/modules/$base"
    echo "  module2 /boot/modules/$base $rest"
  done
  echo '  boot'
  echo '}'
} > "$root/boot/grub/grub.cfg"
grub-mkrescue -o "$out" "$root" >/dev/null 2>&1 || { echo "grub-mkrescue failed" >&2; grub-mkrescue -o "$out" "$root"; exit 1; }
echo "  ISO     $out"
