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
import json, sys
ref, ours = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{'model':<12} {'lifetimes':>12} {'crm':>12} {'speed-up':>9}  {'max rel. parameter difference':>30}")
for name in ["bg-nbd", "mbg-nbd", "pareto-nbd", "bg-bb", "gamma-gamma"]:
    theirs, mine = ref[name]["seconds"], ours[name]
    diff = max(abs(ours["params"][name][k] - v) / abs(v) for k, v in ref[name]["params"].items())
    print(f"{name:<12} {theirs * 1e3:>9.1f} ms {mine * 1e3:>9.2f} ms {theirs / mine:>8.1f}x  {diff:>30.1e}")
print(f"scoring {ours['score_customers']:,} customers (P(alive), E[X(39)], CLV): {ours['score_seconds']:.3f} s")
PY
