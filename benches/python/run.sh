#!/usr/bin/env bash
# The Python bindings against the alternatives, in one run: importing
# parties from columns vs from CSV vs the `crm` command; the per-call
# overhead of a simple get over the Rust API; fitting BG/NBD on CDNOW vs
# `lifetimes` in the same interpreter. A report, not a test.
#
#   ./benches/python/run.sh                       # 1,000,000 parties
#   CRM_BENCH_PARTIES=100000 ./benches/python/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/crm/target}"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/crm/python-bench-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "maturin==1.16.0" "lifetimes==0.11.3" "numpy==2.4.6" "scipy==1.17.1" "pandas==3.1.1"
fi
export PYO3_PYTHON="$venv/bin/python"
PATH="$venv/bin:$PATH" "$venv/bin/pip" install --quiet --no-build-isolation ./bindings/python
cargo build --quiet --release -p crm-cli
CRM_BIN="$CARGO_TARGET_DIR/release/crm" "$venv/bin/python" benches/python/bench.py
