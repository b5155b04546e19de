"""Writes BENCHMARKS.md from the outputs scripts/bench.sh collected (one
text file per benchmark under benches/report/)."""

from __future__ import annotations

import os
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
]

GOALS = """| Goal (2-core machine) | Where to read it |
|---|---|
| Import ≥ 0.5× raw rusqlite | `import` |
| BG/NBD on CDNOW ≥ 100× faster than lifetimes | `lifetimes` (tight tolerance) and `python` (default tolerance) |
| Score 1M customers < 1 s | `models`, `lifetimes` |
| 20 rules over 1M parties < 1 s, ≥ 20× the cel interpreter | `rules` |
| Plugin call ≤ 20 µs with isolation | `plugins` |
| Python get ≤ 2 µs over the Rust API | `python` |
"""


def machine() -> str:
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
        f"- measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
    )


def main() -> None:
    out, quick = Path(sys.argv[1]), sys.argv[2] == "1"
    print("# Benchmarks\n")
    print("Every figure below comes from one run of `./scripts/bench.sh` on the machine described here; each")
    print("benchmark measures its reference (raw SQL, the cel interpreter, lifetimes, native code, the CLI) in the")
    print("same run and reports the ratio. Timings on shared machines are noisy: read min / median / max.\n")
    if quick:
        print("**Quick run (`CRM_BENCH_QUICK=1`): small sizes, for checking the pipeline — not the figures to quote.**\n")
    print("## Machine\n")
    print(machine() + "\n")
    print("## Goals\n")
    print(GOALS)
    for name, title, command in SECTIONS:
        path = out / f"{name}.txt"
        if not path.is_file():
            continue
        env = out / f"{name}.env"
        sizes = env.read_text().strip() if env.is_file() else ""
        print(f"## {title}\n")
        print(f"Reproduce: `{(sizes + ' ') if sizes else ''}{command}`\n")
        print("```text")
        print(path.read_text().rstrip())
        print("```\n")


if __name__ == "__main__":
    main()
