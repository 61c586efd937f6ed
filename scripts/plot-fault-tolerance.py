#!/usr/bin/env python3
"""Plots `peregrine ft simulate` results: one bar per policy in four panels (completion
time, work lost, migrations, checkpoints). Usage: plot-fault-tolerance.py RESULTS.csv OUT.png

The CSV is SimulationResult.csvHeader's (docs/fault-tolerance.md). Needs matplotlib
(Debian: python3-matplotlib, which scripts/install-deps.sh installs).
"""
import csv
import sys


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: plot-fault-tolerance.py RESULTS.csv OUT.png\n")
        return 64
    try:
        import matplotlib
        matplotlib.use("Agg")  # no display: write the file only
        import matplotlib.pyplot as plt
    except ImportError:
        sys.stderr.write("matplotlib is missing (Debian: python3-matplotlib)\n")
        return 70
    with open(argv[1], newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        sys.stderr.write(f"{argv[1]}: no results\n")
        return 65
    needed = ["policy", "completed", "completion_hours", "work_lost_hours", "migrations", "checkpoints"]
    missing = [column for column in needed if column not in rows[0]]
    if missing:
        sys.stderr.write(f"{argv[1]}: missing columns {', '.join(missing)}\n")
        return 65
    policies = [row["policy"] + ("" if row["completed"] == "yes" else " (not done)") for row in rows]
    panels = [
        ("completion_hours", "completion time (h)"),
        ("work_lost_hours", "work lost (h)"),
        ("migrations", "migrations"),
        ("checkpoints", "checkpoints"),
    ]
    figure, axes = plt.subplots(2, 2, figsize=(10, 7))
    for axis, (column, title) in zip(axes.flat, panels):
        values = [float(row[column]) for row in rows]
        bars = axis.bar(range(len(rows)), values, color="#4c72b0")
        axis.set_title(title)
        axis.set_xticks(range(len(rows)))
        axis.set_xticklabels(policies, rotation=20, ha="right", fontsize=8)
        for bar, value in zip(bars, values):
            label = f"{value:.2f}" if column.endswith("hours") else f"{value:.0f}"
            axis.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                          ha="center", va="bottom", fontsize=8)
    figure.suptitle("peregrine ft simulate: per policy")
    figure.tight_layout()
    figure.savefig(argv[2], dpi=100)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
