#!/usr/bin/env bash
# Fit times of crm's models against Python `lifetimes` on the same data, in
# one run, plus the time to score N customers. Installs lifetimes into a
# virtual environment of its own (outside the repository).
#
#   ./benches/lifetimes/compare.sh            # 5 fits per model, 1M customers scored
#   CRM_BENCH_RUNS=3 CRM_BENCH_CUSTOMERS=100000 ./benches/lifetimes/compare.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

venv="${XDG_CACHE_HOME:-$HOME/.cache}/crm/lifetimes-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "lifetimes==0.11.3" "numpy==2.4.6" "scipy==1.17.1" "pandas==3.1.1"
fi

runs="${CRM_BENCH_RUNS:-5}"
reference=$("$venv/bin/python" benches/lifetimes/reference.py --repeat "$runs")
ours=$(CRM_BENCH_JSON=1 CRM_BENCH_RUNS="$runs" cargo bench --quiet -p crm-benches --bench models 2>/dev/null | tail -n 1)

"$venv/bin/python" - "$reference" "$ours" <<'PY'
import json, statistics, sys
ref, ours = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def mmm(xs):
    xs = sorted(xs)
    return xs[0], xs[len(xs) // 2], xs[-1]
print("fit times, min / median / max over the runs; speed-up = lifetimes ÷ crm for the fastest runs,")
print("the medians and the slowest runs")
print(f"{'model':<12} {'lifetimes (ms)':>26} {'crm (ms)':>24} {'speed-up':>22}  {'max rel. param. diff.':>22}")
for name in ["bg-nbd", "mbg-nbd", "pareto-nbd", "bg-bb", "gamma-gamma"]:
    theirs, mine = mmm(ref[name]["runs"]), mmm(ours[name])
    diff = max(abs(ours["params"][name][k] - v) / abs(v) for k, v in ref[name]["params"].items())
    t = " / ".join(f"{v * 1e3:.1f}" for v in theirs)
    m = " / ".join(f"{v * 1e3:.2f}" for v in mine)
    s = " / ".join(f"{a / b:.1f}x" for a, b in zip(theirs, mine))
    print(f"{name:<12} {t:>26} {m:>24} {s:>22}  {diff:>22.1e}")
lo, med, hi = mmm(ours["score_seconds"])
print(f"scoring {ours['score_customers']:,} customers (P(alive), E[X(39)], CLV): {lo:.3f} / {med:.3f} / {hi:.3f} s")
PY
