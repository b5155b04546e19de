"""Python bindings benchmark (see run.sh). Prints min / median / max over
repeated runs and the ratios the goals are stated in."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

import crm

PARTIES = int(os.environ.get("CRM_BENCH_PARTIES", "1000000"))
RUNS = int(os.environ.get("CRM_BENCH_RUNS", "3"))


def timed(f: Callable[[], object], runs: int = RUNS) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        f()
        out.append(time.perf_counter() - started)
    return sorted(out)


def fmt(ts: list[float], unit: str = "s", scale: float = 1.0) -> str:
    return f"{ts[0] * scale:.3f} / {statistics.median(ts) * scale:.3f} / {ts[-1] * scale:.3f} {unit}"


def columns(n: int) -> dict[str, list[str]]:
    return {
        "external_id": [f"erp:{i}" for i in range(n)],
        "name": [f"客户 Customer {i}" for i in range(n)],
        "email": [f"c{i}@example.com" for i in range(n)],
        "roles": ["customer"] * n,
    }


def imports(tmp: Path) -> None:
    data = columns(PARTIES)
    csv = tmp / "parties.csv"
    with csv.open("w", encoding="utf-8") as f:
        f.write("external_id,name,email,roles\n")
        for row in zip(*data.values()):
            f.write(",".join(row) + "\n")
    target = tmp / "import.db"

    def clear() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)

    def run(work: Callable[[], object], before: Callable[[], object] = lambda: None) -> list[float]:
        """Times `work` on a new database each run, deleting it after (a
        million parties take a gigabyte or so)."""
        out = []
        for _ in range(RUNS):
            clear()
            before()
            started = time.perf_counter()
            work()
            out.append(time.perf_counter() - started)
            clear()
        return sorted(out)

    from_columns = run(lambda: crm.Crm(target).import_columns("parties", data))
    print(f"  (columns done: {fmt(from_columns)})", flush=True)
    from_csv = run(lambda: crm.Crm(target).import_file("parties", csv))
    print(f"  (CSV done: {fmt(from_csv)})", flush=True)
    binary = os.environ["CRM_BIN"]
    cli = run(
        lambda: subprocess.run([binary, "--db", str(target), "import", "parties", str(csv)], check=True, capture_output=True),
        before=lambda: subprocess.run([binary, "--db", str(target), "init"], check=True, capture_output=True),
    )
    print(f"import {PARTIES:,} parties (min / median / max):")
    print(f"  Python, from columns: {fmt(from_columns)}  ({statistics.median(from_columns) / statistics.median(cli):.2f}x the CLI)")
    print(f"  Python, from CSV:     {fmt(from_csv)}  ({statistics.median(from_csv) / statistics.median(cli):.2f}x the CLI)")
    print(f"  crm import (Rust):    {fmt(cli)}")


def get_overhead(tmp: Path) -> None:
    db = crm.Crm(tmp / "get.db")
    party = db.create_party("林 Lin", roles=["customer"], email="lin@example.com", tags=["vip"])
    key = party.id
    n = 20_000
    python, rust = [], []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n):
            db.get_party(key)
        python.append((time.perf_counter() - started) / n)
        rust.append(crm._crm._time_get_party(db, party.id, n))
    python.sort()
    rust.sort()
    overhead = [p - r for p, r in zip(python, rust)]
    print("get_party on a file database (µs per call, min / median / max):")
    print(f"  Python: {fmt(python, 'µs', 1e6)}   Rust API alone: {fmt(rust, 'µs', 1e6)}")
    print(f"  binding overhead: median {statistics.median(python) * 1e6 - statistics.median(rust) * 1e6:.2f} µs "
          f"(min {min(overhead) * 1e6:.2f})")


def fits() -> None:
    log = crm.load_cdnow()
    s = crm.summarize(log["customer"], log["date"], log["amount"], "1997-09-30")
    ours = timed(lambda: crm.BgNbd.fit(s["frequency"], s["recency"], s["T"]), runs=5)
    model, _ = crm.BgNbd.fit(s["frequency"], s["recency"], s["T"])
    try:
        import pandas as pd
        from lifetimes import BetaGeoFitter
    except ImportError:
        print("BG/NBD on CDNOW: crm", fmt(ours, "ms", 1e3), "(lifetimes not installed)")
        return
    frame = pd.DataFrame({"frequency": s["frequency"], "recency": s["recency"], "T": s["T"]})

    def theirs() -> BetaGeoFitter:
        fitter = BetaGeoFitter()
        fitter.fit(frame["frequency"], frame["recency"], frame["T"])
        return fitter

    lifetimes = timed(theirs, runs=5)
    fitted = theirs().params_
    diff = max(abs(fitted[k] - v) / abs(v) for k, v in model.params().items())
    print("BG/NBD on CDNOW from Python (min / median / max):")
    print(f"  crm:       {fmt(ours, 'ms', 1e3)}")
    print(f"  lifetimes: {fmt(lifetimes, 'ms', 1e3)}  (default tolerance; max rel. parameter difference {diff:.1e})")
    print(f"  speed-up: {statistics.median(lifetimes) / statistics.median(ours):.0f}x")


def main() -> None:
    print(f"crm {crm.__version__}, numpy {np.__version__}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        if PARTIES > 0:  # CRM_BENCH_PARTIES=0 skips the imports
            imports(Path(tmp))
        get_overhead(Path(tmp))
    fits()


if __name__ == "__main__":
    main()
