#!/usr/bin/python3
"""Plots and a short report from the CSV files `make bench` wrote (build/bench by default).

  scripts/bench/plots.py [BENCH_DIR]

Writes exit-costs.png, linux-exits.png, os-noise.png and report.md into BENCH_DIR. A CSV
that is missing or empty leaves its plot and report section out, with a note saying so.
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else "build/bench"


def rows(name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def grouped_bars(path, title, ylabel, categories, series, log=False):
    """series: {label: {category: value}}, bars side by side per category."""
    fig, ax = plt.subplots(figsize=(max(6, len(categories) * 0.9), 4))
    width = 0.8 / max(1, len(series))
    for i, (label, values) in enumerate(series.items()):
        xs = [c + i * width for c in range(len(categories))]
        ax.bar(xs, [values.get(c, 0) for c in categories], width, label=label)
    ax.set_xticks([c + width * (len(series) - 1) / 2 for c in range(len(categories))])
    ax.set_xticklabels(categories, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log:
        ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


report = ["# Peregrine bench report", ""]
report.append(
    "All figures are emulated instructions (QEMU `-icount shift=0`, where the guest TSC and "
    "the kernel clock count instructions) or Bochs instruction counts (`clock: sync=none`): "
    "deterministic counts, not hardware time."
)
report.append("")

costs = rows("exit-costs.csv")
report.append("## Exit round trips (guest-observed, instructions)")
if costs:
    exits = list(dict.fromkeys(r["exit"] for r in costs))
    backends = list(dict.fromkeys(r["backend"] for r in costs))
    table = {b: {r["exit"]: int(r["instructions"]) for r in costs if r["backend"] == b} for b in backends}
    grouped_bars(os.path.join(out, "exit-costs.png"), "Exit round trip per reason",
                 "emulated instructions", exits, table)
    report.append("| exit | " + " | ".join(backends) + " |")
    report.append("|---|" + "---|" * len(backends))
    for e in exits:
        report.append(f"| {e} | " + " | ".join(str(table[b].get(e, "-")) for b in backends) + " |")
    report.append("")
    report.append("![exit costs](exit-costs.png)")
else:
    report.append("(exit-costs.csv missing: the exit-cost run did not finish)")
report.append("")

boot = rows("linux-boot.csv")
linux_exits = rows("linux-exits.csv")
report.append("## Linux boot to /init (Debian's kernel, busybox initramfs)")
if boot:
    report.append("| setup | machine | kernel clock at /init (instructions) |")
    report.append("|---|---|---|")
    ns = {}
    for r in boot:
        ns[r["setup"]] = float(r["ns_to_init"]) if r["ns_to_init"] else None
        value = f"{ns[r['setup']]:.4e}" if ns[r["setup"]] else "did not reach /init"
        report.append(f"| {r['setup']} | {r['machine']} | {value} |")
    report.append("")
    inside, microvm = ns.get("peregrine-svm"), ns.get("qemu-microvm")
    svm = next((r for r in boot if r["setup"] == "peregrine-svm"), None)
    if inside and microvm:
        report.append(
            f"Inside Peregrine the kernel reaches /init after {inside:.4e} instructions of its own "
            f"clock, against {microvm:.4e} booted directly on `-M microvm`: a ratio of "
            f"{inside / microvm:.3f} ({inside - microvm:+.3e}).")
    if svm and svm["vm_lifetime_cycles"] and float(svm["vm_lifetime_cycles"]) > 0:
        life, cycles = float(svm["vm_lifetime_cycles"]), float(svm["exit_cycles"])
        report.append(
            f"The VM's {int(svm['exits'])} exits took {cycles:.3e} of its {life:.3e} cycles "
            f"({100 * cycles / life:.2f}%) in the hypervisor, which is what virtualization itself "
            "costs this boot (under -icount the guest clock also counts the hypervisor's "
            "instructions, so each exit lengthens the measured boot by its cost).")
    report.append("")
    report.append(
        "The rest of the difference is the machine, not the hypervisor. Neither machine has a "
        "CMOS clock, and both kernels print `Unable to read current time from RTC` at about "
        "1.06-1.09e9, after waiting for it (0.99e9 of waiting, in a microvm boot without "
        "`quiet`). On `-M microvm,rtc=off` QEMU's FADT does not flag the CMOS RTC absent, so "
        "that kernel also registers the `rtc_cmos` platform device and spends another 0.99e9 "
        "probing it (`rtc_cmos: broken or not accessible`); Peregrine's FADT sets "
        "IAPC_BOOT_ARCH bit 5 (CMOS RTC not present), which should skip that probe (not "
        "confirmed by a Peregrine boot without `quiet`). `-M pc` has a working RTC but an "
        "HPET, i8042, ATA and VGA to probe and set up. Idle (HLT) time advances both clocks "
        "with wall time under -icount, so part of either figure is load-dependent.")
report.append("")
if linux_exits:
    reasons = list(dict.fromkeys(r["reason"] for r in linux_exits))
    backends = list(dict.fromkeys(r["backend"] for r in linux_exits))
    counts = {b: {r["reason"]: int(r["exits"]) for r in linux_exits if r["backend"] == b} for b in backends}
    grouped_bars(os.path.join(out, "linux-exits.png"), "Exits per reason, Linux boot to power-off",
                 "exits (log scale)", reasons, counts, log=True)
    report.append("| reason | " + " | ".join(f"{b} exits | {b} cycles/exit" for b in backends) + " |")
    report.append("|---|" + "---|---|" * len(backends))
    per = {b: {r["reason"]: r["cycles_per_exit"] for r in linux_exits if r["backend"] == b} for b in backends}
    for reason in reasons:
        report.append(f"| {reason} | " + " | ".join(
            f"{counts[b].get(reason, '-')} | {per[b].get(reason, '-')}" for b in backends) + " |")
    report.append("")
    report.append("![exits per reason](linux-exits.png)")
else:
    report.append("(linux-exits.csv missing or empty: the Linux boot inside Peregrine did not finish)")
report.append("")

noise = rows("os-noise.csv")
hist = rows("os-noise-histogram.csv")
report.append("## OS noise (selfish detour, 1e8 cycles, detours above 100 cycles)")
report.append("")
report.append("peregrine: the VM alone on its CPU; peregrine-shared: sharing the node's one CPU with a second copy of itself; native: the same binary bare under QEMU behind a boot sector.")
report.append("")
if noise:
    report.append("| setup | detours | cycles lost | fraction lost | longest detour | shortest gap |")
    report.append("|---|---|---|---|---|---|")
    for r in noise:
        report.append(
            f"| {r['setup']} | {r['detours']} | {r['lost_cycles']} | "
            f"{100 * float(r['lost_fraction']):.4f}% | {r['max_detour']} | {r['min_gap']} |")
    fig, ax = plt.subplots(figsize=(7, 4))
    setups = [r["setup"] for r in noise]
    for i, s in enumerate(setups):
        points = [(int(h["detour_from_cycles"]), int(h["detours"])) for h in hist if h["setup"] == s]
        if points:
            xs, ys = zip(*points)
            # Side by side inside each power-of-two bin (log x axis: offsets scale with x).
            ax.bar([x * (1 + 0.3 * i) for x in xs], ys, width=[x * 0.28 for x in xs], label=s,
                   align="edge")
        else:
            ax.plot([], [], label=f"{s}: no detour")
    ax.set_xscale("log")
    ax.set_xlim(64, 2 ** 31)  # from the threshold to about 2 s at 1 GHz
    ax.set_xlabel("detour length, cycles (power-of-two bins)")
    ax.set_ylabel("detours")
    ax.set_title("Selfish detour histogram")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "os-noise.png"), dpi=100)
    plt.close(fig)
    report.append("")
    report.append("| setup | detours from (cycles) | detours | cycles |")
    report.append("|---|---|---|---|")
    for h in hist:
        report.append(f"| {h['setup']} | {h['detour_from_cycles']} | {h['detours']} | {h['cycles']} |")
    report.append("")
    report.append("![detour histogram](os-noise.png)")
else:
    report.append("(os-noise.csv missing: the OS-noise runs did not finish)")
report.append("")

footprint = rows("footprint.csv")
report.append("## Footprint")
if footprint:
    report.append("| what | item | KiB |")
    report.append("|---|---|---|")
    for r in footprint:
        report.append(f"| {r['what']} | {r['item']} | {int(r['bytes']) / 1024:.0f} |")
    report.append("")
    report.append(
        "Beyond RAM, a VM holds its nested page tables, its VMCBs or VMCSs and its I/O and MSR "
        "permission bitmaps (counted from the machine's free frames before and after building "
        "it). vCPUs run on their host CPU's stack; the VM's objects live in the kernel's fixed "
        "heap arena, not counted per VM.")
else:
    report.append("(footprint.csv missing)")
report.append("")

with open(os.path.join(out, "report.md"), "w") as f:
    f.write("\n".join(report))
print(f"plots and report: {out}/report.md, " + ", ".join(
    p for p in ("exit-costs.png", "linux-exits.png", "os-noise.png") if os.path.exists(os.path.join(out, p))))
