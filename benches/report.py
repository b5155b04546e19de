"""Writes BENCHMARKS.md from the outputs scripts/bench.sh collected (one
text file per benchmark under benches/report/) and the scaling plots.

    python3 benches/report.py benches/report QUICK [--check] > BENCHMARKS.md

QUICK is 1 for a quick run; --check renders without rewriting the plots.
"""

from __future__ import annotations

import math
import os
import re
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

SECTIONS = [
    ("import", "Bulk import vs raw rusqlite", "cargo bench -p crm-benches --bench import"),
    ("orders", "Order import and profit per party vs hand-written SQL", "cargo bench -p crm-benches --bench orders"),
    ("models", "Model fits and scoring a million customers", "cargo bench -p crm-benches --bench models"),
    ("lifetimes", "CLV fits vs Python lifetimes (parameters compared)", "./benches/lifetimes/compare.sh"),
    ("rules", "Rule evaluation vs the cel interpreter", "cargo bench -p crm-benches --bench rules"),
    ("segments", "Incremental segment maintenance per write", "cargo bench -p crm-benches --bench segments"),
    ("plugins", "Plugin call with isolation vs native; install; change feed", "cargo bench -p crm-benches --bench plugins"),
    ("python", "Python bindings vs the CLI, the Rust API and lifetimes", "./benches/python/run.sh"),
    ("scaling", "Scaling from 1,000 to 1,000,000 customers", "cargo bench -p crm-benches --bench scaling"),
]

# Each goal: its words, the report file, a pattern whose groups are the
# min / median / max figures, whether higher is better, and the target.
GOALS = [
    ("Import ≥ 0.5× raw rusqlite (with its search-index row; rows/s ratio)", "import",
     r"ratio crm ÷ base \+ search index:\s+([\d.]+) /\s+([\d.]+) /\s+([\d.]+)", True, 0.5, "×"),
    ("BG/NBD fit on CDNOW ≥ 100× faster than lifetimes (tight tolerance)", "lifetimes",
     r"bg-nbd .* ([\d.]+)x / ([\d.]+)x / ([\d.]+)x", True, 100.0, "×"),
    ("Score 1M customers < 1 s (P(alive), E[X(39)], 12-month CLV)", "models",
     r"scoring \d+ customers .*: ([\d.]+) / ([\d.]+) / ([\d.]+) s", False, 1.0, " s"),
    ("20 rules over 1M parties < 1 s", "rules",
     r"compiled whole-base evaluation, \d+ runs: ([\d.]+) / ([\d.]+) / ([\d.]+) s", False, 1.0, " s"),
    ("20 rules ≥ 20× the cel interpreter", "rules",
     r"speed-up .*: ([\d.]+)x / ([\d.]+)x / ([\d.]+)x", True, 20.0, "×"),
    ("Plugin call ≤ 20 µs with isolation", "plugins",
     r"command call, isolated: min ([\d.]+) / median ([\d.]+) / max ([\d.]+)", False, 20.0, " µs"),
    ("Python get ≤ 2 µs over the Rust API", "python",
     r"binding overhead: median ([\d.]+) µs \(min ([\d.]+)\)", False, 2.0, " µs"),
]

def goals_table(out: Path) -> str:
    rows = ["| Goal (2-core machine) | Measured: median (min – max) | |", "|---|---|---|"]
    for words, name, pattern, higher, target, unit in GOALS:
        path = out / f"{name}.txt"
        found = re.search(pattern, path.read_text()) if path.is_file() else None
        if not found:
            rows.append(f"| {words} | not measured in this run | |")
            continue
        # Three groups are min, median, max; two are median, min.
        values = [float(v) for v in found.groups()]
        median = values[1] if len(values) == 3 else values[0]
        spread = f" ({min(values):g} – {max(values):g})" if len(values) == 3 else f" (min {values[1]:g})"
        met = median >= target if higher else median <= target
        verdict = "met" if met else f"**missed** by {abs(median - target) / target:.0%} (why: the notes below)"
        rows.append(f"| {words} | {median:g}{unit}{spread} | {verdict} |")
    return "\n".join(rows) + "\n"


# Plots: hand-written SVG (no plotting library to install), log-log axes.
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def read_scaling(path: Path) -> dict[str, list[tuple[int, float, float, float, float]]]:
    stages: dict[str, list[tuple[int, float, float, float, float]]] = {}
    lines = path.read_text().splitlines()[1:]
    for line in lines:
        stage, n, lo, med, hi, mib = line.split("\t")
        stages.setdefault(stage, []).append((int(n), float(lo), float(med), float(hi), float(mib)))
    return stages


def slope(points: list[tuple[float, float]]) -> float:
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(v) for _, v in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else float("nan")


def svg_plot(series: dict[str, list[tuple[int, float]]], title: str, y_label: str) -> str:
    width, height, left, right, top, bottom = 760, 420, 70, 190, 40, 50
    points = [(n, v) for values in series.values() for n, v in values if v > 0]
    x_lo, x_hi = math.floor(math.log10(min(n for n, _ in points))), math.ceil(math.log10(max(n for n, _ in points)))
    y_lo, y_hi = math.floor(math.log10(min(v for _, v in points))), math.ceil(math.log10(max(v for _, v in points)))
    x_hi, y_hi = max(x_hi, x_lo + 1), max(y_hi, y_lo + 1)

    def px(n: float) -> float:
        return left + (math.log10(n) - x_lo) / (x_hi - x_lo) * (width - left - right)

    def py(v: float) -> float:
        return height - bottom - (math.log10(v) - y_lo) / (y_hi - y_lo) * (height - top - bottom)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">{title}</text>',
    ]
    for e in range(x_lo, x_hi + 1):
        x = px(10**e)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - bottom}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle">{10**e:,}</text>')
    for e in range(y_lo, y_hi + 1):
        y = py(10**e)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{10.0**e:g}</text>')
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">customers</text>')
    out.append(
        f'<text x="16" y="{(top + height - bottom) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {(top + height - bottom) / 2})">{y_label}</text>'
    )
    for k, (name, values) in enumerate(series.items()):
        colour = COLOURS[k % len(COLOURS)]
        shown = [(n, v) for n, v in values if v > 0]
        if not shown:
            continue
        path = " ".join(f"{px(n):.1f},{py(v):.1f}" for n, v in shown)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for n, v in shown:
            out.append(f'<circle cx="{px(n):.1f}" cy="{py(v):.1f}" r="3" fill="{colour}"/>')
        ly = top + 16 * k + 10
        out.append(f'<line x1="{width - right + 12}" y1="{ly}" x2="{width - right + 32}" y2="{ly}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{width - right + 38}" y="{ly + 4}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def seconds(value: float) -> str:
    if value >= 1.0:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} µs"


def write_plots(out: Path, stages: dict[str, list[tuple[int, float, float, float, float]]]) -> None:
    (out / "scaling-time.svg").write_text(
        svg_plot({s: [(n, med) for n, _, med, _, _ in v] for s, v in stages.items()},
                 "Time per stage (median), log-log", "seconds")
    )
    (out / "scaling-memory.svg").write_text(
        svg_plot({s: [(n, mib) for n, *_, mib in v] for s, v in stages.items()},
                 "Peak heap added per stage, log-log", "MiB")
    )


def scaling_section(out: Path, plots: bool) -> str:
    path = out / "scaling.tsv"
    if not path.is_file():
        return ""
    stages = read_scaling(path)
    sizes = sorted({n for values in stages.values() for n, *_ in values})
    if plots:
        write_plots(out, stages)
    head = "| stage | " + " | ".join(f"{n:,}" for n in sizes) + " | peak MiB at the largest | slope k (time ∝ Nᵏ, from 10,000) |"
    rows = [head, "|---" * (len(sizes) + 3) + "|"]
    for stage, values in stages.items():
        by_n = {n: (lo, med, hi, mib) for n, lo, med, hi, mib in values}
        cells = [seconds(by_n[n][1]) if n in by_n else "" for n in sizes]
        fitted = [(n, med) for n, _, med, _, _ in values if n >= 10_000]
        k = f"{slope(fitted):.2f}" if len(fitted) >= 2 else "–"
        rows.append(f"| {stage} | " + " | ".join(cells) + f" | {values[-1][4]:.1f} | {k} |")
    return (
        "Medians of the runs; every run's min / median / max and the peak heap per size are in the raw output "
        "below. Plots: [time](benches/report/scaling-time.svg), [peak heap](benches/report/scaling-memory.svg).\n\n"
        "![time per stage](benches/report/scaling-time.svg)\n\n"
        "![peak heap per stage](benches/report/scaling-memory.svg)\n\n" + "\n".join(rows) + "\n"
    )


def measured(out: Path) -> datetime:
    times = [p.stat().st_mtime for p in out.glob("*.txt")]
    return datetime.fromtimestamp(max(times), timezone.utc) if times else datetime.now(timezone.utc)


def machine(out: Path) -> str:
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"- {os.cpu_count()} cores ({cpu}), {memory} memory, {platform.system()} {platform.release()}\n"
        f"- {rustc}, Python {platform.python_version()}\n"
        f"- measured {measured(out):%Y-%m-%d %H:%M} UTC (the newest output)"
    )


def main() -> None:
    # `--check` (the test script) renders without rewriting the plots.
    out, quick, plots = Path(sys.argv[1]), sys.argv[2] == "1", "--check" not in sys.argv[3:]
    print("# Benchmarks\n")
    print("Every figure below comes from one run of `./scripts/bench.sh` on the machine described here; each")
    print("benchmark measures its reference (raw SQL, the cel interpreter, lifetimes, native code, the CLI) in the")
    print("same run and reports the ratio. Timings on shared machines are noisy: read min / median / max.\n")
    if quick:
        print("**Quick run (`CRM_BENCH_QUICK=1`): small sizes, for checking the pipeline — not the figures to quote.**\n")
    print("## Machine\n")
    print(machine(out) + "\n")
    print("## Goals\n")
    print(goals_table(out))
    notes = Path(__file__).with_name("goals.md")
    if notes.is_file():
        print(notes.read_text())
    for name, title, command in SECTIONS:
        path = out / f"{name}.txt"
        if not path.is_file():
            continue
        env = out / f"{name}.env"
        sizes = env.read_text().strip() if env.is_file() else ""
        print(f"## {title}\n")
        print(f"Reproduce: `{(sizes + ' ') if sizes else ''}{command}`\n")
        if name == "scaling":
            print(scaling_section(out, plots))
        print("```text")
        print(path.read_text().rstrip())
        print("```\n")


if __name__ == "__main__":
    main()
