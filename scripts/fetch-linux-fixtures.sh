#!/usr/bin/env bash
# Fetches the Linux guest fixtures from Debian's mirrors (through apt) and builds them into
# OUTDIR (default build/linux, which is git-ignored; nothing here is ever committed):
#   OUTDIR/vmlinuz             the stock kernel of Debian's linux-image-cloud-amd64
#   OUTDIR/VERSION             its release (`uname -r`) on line 1, the .deb it came from on line 2
#   OUTDIR/initramfs.cpio.gz   newc + gzip: busybox-static, /init from guests/linux/init, the
#                              kernel's virtio modules in /lib/modules with load-order, and
#                              /bin/nvme-attach built from guests/linux/nvme-attach.c (static,
#                              with the host's C compiler; left out, said, when there is none)
#                              and /bin/nvme-regs from guests/linux/nvme-regs.c and
#                              /bin/pollnet and /bin/pingpong from guests/linux/pollnet.c and
#                              pingpong.c, /bin/nvmeio and
#                              /bin/nvme-virt from guests/linux/nvmeio.c and nvme-virt.c
#                              (the NVMe bench), the same way
# Idempotent: does nothing when all three outputs exist and are newer than this script and
# guests/linux/init and the six C tools and their two headers. Usage: scripts/fetch-linux-fixtures.sh [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
outdir=${1:-build/linux}
script=scripts/fetch-linux-fixtures.sh
init_src=guests/linux/init
attach_src=guests/linux/nvme-attach.c
regs_src=guests/linux/nvme-regs.c
pollnet_src=guests/linux/pollnet.c
pingpong_src=guests/linux/pingpong.c
nvmeio_src=guests/linux/nvmeio.c
virt_src=guests/linux/nvme-virt.c
passthru_header=guests/linux/nvme-passthru.h
busy_poll_header=guests/linux/busy-poll.h
meta=linux-image-cloud-amd64
outputs=("$outdir/vmlinuz" "$outdir/VERSION" "$outdir/initramfs.cpio.gz")

report() {
  for f in "${outputs[@]}"; do
    printf '%-40s %10s bytes\n' "$f" "$(stat -c %s "$f")"
  done
  echo "kernel release: $(head -n1 "$outdir/VERSION")"
}

up_to_date=1
for f in "${outputs[@]}"; do
  if [ ! -s "$f" ] || [ ! "$f" -nt "$script" ] || [ ! "$f" -nt "$init_src" ] \
    || [ ! "$f" -nt "$attach_src" ] || [ ! "$f" -nt "$regs_src" ] \
    || [ ! "$f" -nt "$pollnet_src" ] || [ ! "$f" -nt "$pingpong_src" ] || [ ! "$f" -nt "$nvmeio_src" ] \
    || [ ! "$f" -nt "$virt_src" ] || [ ! "$f" -nt "$passthru_header" ] \
    || [ ! "$f" -nt "$busy_poll_header" ]; then up_to_date=0; fi
done
if [ "$up_to_date" = 1 ]; then
  echo "fetch-linux-fixtures: up to date"
  report
  exit 0
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive

# Package lists: only when apt knows no candidate for the metapackage (lists missing/stale).
# (Captured first: `apt-cache ... | grep -q` would fail under pipefail when grep exits early.)
policy=$(apt-cache policy "$meta" 2> /dev/null || true)
if ! grep -q 'Candidate: [0-9]' <<< "$policy"; then
  echo "fetch-linux-fixtures: apt-get update"
  "${sudo_cmd[@]}" apt-get update -qq
fi
if ! command -v cpio > /dev/null; then
  echo "fetch-linux-fixtures: installing cpio"
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends cpio
fi

# linux-image-cloud-amd64 is a metapackage: the kernel is in the versioned package it
# depends on (linux-image-6.1.0-NN-cloud-amd64).
# (awk reads to the end rather than exiting early, so apt-cache never sees SIGPIPE.)
image=$(apt-cache depends "$meta" |
  awk '$1 == "Depends:" && $2 ~ /^linux-image-/ && !found {print $2; found = 1}')
if [ -z "$image" ]; then
  echo "fetch-linux-fixtures: cannot resolve the kernel package behind $meta" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt-get download drops root privileges to _apt when it can; let _apt write here.
chmod 777 "$work"
mkdir -p "$work/deb"
chmod 777 "$work/deb"
echo "fetch-linux-fixtures: downloading $image busybox-static"
(cd "$work/deb" && apt-get download -qq "$image" busybox-static)

mkdir -p "$work/x"
for deb in "$work"/deb/*.deb; do dpkg-deb -x "$deb" "$work/x"; done

kernels=("$work"/x/boot/vmlinuz-*)
if [ ${#kernels[@]} -ne 1 ] || [ ! -f "${kernels[0]}" ]; then
  echo "fetch-linux-fixtures: expected exactly one boot/vmlinuz-* in $image" >&2
  exit 1
fi
release=${kernels[0]##*/vmlinuz-}
if [ ! -x "$work/x/bin/busybox" ]; then
  echo "fetch-linux-fixtures: busybox-static has no /bin/busybox" >&2
  exit 1
fi

# The initramfs tree. Every file gets owner 0:0 and mtime 0 so the archive is reproducible.
root=$work/root
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp}
install -m 0755 "$work/x/bin/busybox" "$root/bin/busybox"
for applet in sh echo mount poweroff cat uname grep insmod head od tr sleep; do ln -s busybox "$root/bin/$applet"; done
ln -s ../bin/busybox "$root/sbin/poweroff"
install -m 0755 "$init_src" "$root/init"
if command -v cc > /dev/null; then
  cc -static -Os -o "$root/bin/nvme-attach" "$attach_src"
  cc -static -Os -o "$root/bin/nvme-regs" "$regs_src"
  cc -static -Os -o "$root/bin/pollnet" "$pollnet_src"
  cc -static -Os -o "$root/bin/pingpong" "$pingpong_src"
  cc -static -Os -o "$root/bin/nvmeio" "$nvmeio_src"
  cc -static -Os -o "$root/bin/nvme-virt" "$virt_src"
else
  echo "fetch-linux-fixtures: no C compiler: the initramfs has no /bin/nvme-attach, /bin/nvme-regs, /bin/pollnet, /bin/pingpong, /bin/nvmeio, /bin/nvme-virt" >&2
fi

# The virtio modules (CONFIG_VIRTIO*=m in Debian's cloud kernel), in dependency order:
# modules.dep (made by the package's own busybox depmod: the .deb ships none) lists a
# module's dependencies so that the last is loaded first.
modules_dir="$work/x/lib/modules/$release"
"$work/x/bin/busybox" depmod -b "$work/x" "$release"
mkdir -p "$root/lib/modules"
wanted="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk
  failover net_failover virtio_net virtio-rng"
order=()
add_module() {  # add_module kernel/.../name.ko: its dependencies first, then itself
  local path=$1 dep deps
  for done_path in "${order[@]}"; do [ "$done_path" = "$path" ] && return; done
  deps=$(awk -v m="$path:" '$1 == m { for (i = NF; i > 1; i--) print $i }' "$modules_dir/modules.dep")
  for dep in $deps; do add_module "$dep"; done
  order+=("$path")
}
for name in $wanted; do
  path=$(awk -v n="/$name.ko:" 'index($1, n) && !found { print substr($1, 1, length($1) - 1); found = 1 }' \
    "$modules_dir/modules.dep")
  if [ -z "$path" ]; then
    echo "fetch-linux-fixtures: $image has no module $name" >&2
    exit 1
  fi
  add_module "$path"
done
for path in "${order[@]}"; do
  install -m 0644 "$modules_dir/$path" "$root/lib/modules/${path##*/}"
  echo "${path##*/}" >> "$root/lib/modules/load-order"
done
# The kernel's built-in initramfs normally provides /dev/console; have it here as well so
# /init's output never depends on that.
mknod -m 0600 "$root/dev/console" c 5 1 2> /dev/null || true
find "$root" -exec touch -h -d @0 {} +

mkdir -p "$outdir"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
  cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 -n > "$work/initramfs.cpio.gz"

# Publish all three only when everything above succeeded.
cp "${kernels[0]}" "$outdir/vmlinuz.tmp" && mv "$outdir/vmlinuz.tmp" "$outdir/vmlinuz"
mv "$work/initramfs.cpio.gz" "$outdir/initramfs.cpio.gz"
chmod 0644 "$outdir/vmlinuz" "$outdir/initramfs.cpio.gz"
debver=$(dpkg-deb -f "$work"/deb/"${image}"_*.deb Version)
printf '%s\n%s %s\n' "$release" "$image" "$debver" > "$outdir/VERSION"

report
