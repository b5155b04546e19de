#!/usr/bin/env bash
# The performance report: builds in release mode, runs every benchmark and
# the comparison scripts in one go, and writes BENCHMARKS.md (each figure
# with the command that reproduces it) and the raw outputs under
# benches/report/.
#
#   ./scripts/bench.sh                 # full sizes (about 40 minutes on 2 cores)
#   CRM_BENCH_QUICK=1 ./scripts/bench.sh   # small sizes, to check the pipeline
#
# Benchmarks report ratios against a reference measured in the same run;
# nothing here is a test. The machine is stated in the report.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/crm/target}"
quick="${CRM_BENCH_QUICK:-0}"
out=benches/report
mkdir -p "$out"

step() { printf '\n==> %s\n' "$*" >&2; }

# Sizes: (full, quick).
size() { if [ "$quick" = 1 ]; then echo "$2"; else echo "$1"; fi; }

step "plugins for wasm32-wasip2 (the plugin bench calls the fixture)"
rustup target list --installed 2>/dev/null | grep -q '^wasm32-wasip2$' || rustup target add wasm32-wasip2
cargo build --quiet --release --locked --target wasm32-wasip2 --manifest-path plugins/Cargo.toml
export CRM_PLUGINS_DIR="$CARGO_TARGET_DIR/wasm32-wasip2/release"

step "release build of the benches"
cargo bench --quiet --locked -p crm-benches --no-run

run_bench() {
    local name=$1
    shift
    step "bench $name ($*)"
    env "$@" cargo bench --quiet --locked -p crm-benches --bench "$name" 2>/dev/null | tee "$out/$name.txt"
    # The sizes, to reproduce the figure (not where this run kept its files).
    printf '%s\n' "$*" | sed 's/ *CRM_BENCH_TSV=[^ ]*//' >"$out/$name.env"
}

run_bench import CRM_BENCH_ROWS="$(size 1000000 20000)" CRM_BENCH_RUNS=3
run_bench orders CRM_BENCH_LINES="$(size 1000000 20000)" CRM_BENCH_PARTIES="$(size 100000 2000)"
run_bench models CRM_BENCH_CUSTOMERS="$(size 1000000 20000)" CRM_BENCH_RUNS=3
run_bench rules CRM_BENCH_PARTIES="$(size 1000000 20000)" CRM_BENCH_CEL_ROWS="$(size 100000 5000)"
run_bench segments CRM_BENCH_PARTIES="$(size 100000 5000)"
run_bench plugins CRM_BENCH_CALLS="$(size 5000 500)" CRM_BENCH_EVENTS="$(size 2000 200)"
run_bench scaling CRM_BENCH_SIZES="$(size 1000,10000,100000,1000000 1000,10000)" CRM_BENCH_RUNS=3 \
    CRM_BENCH_TSV="$PWD/$out/scaling.tsv"

step "CLV fits against Python lifetimes"
CRM_BENCH_RUNS=3 CRM_BENCH_CUSTOMERS="$(size 1000000 20000)" ./benches/lifetimes/compare.sh | tee "$out/lifetimes.txt"

step "Python bindings against the CLI, the Rust API and lifetimes"
CRM_BENCH_PARTIES="$(size 1000000 20000)" CRM_BENCH_RUNS=3 ./benches/python/run.sh | tee "$out/python.txt"

step "BENCHMARKS.md"
python3 benches/report.py "$out" "$quick" >BENCHMARKS.md
echo "wrote BENCHMARKS.md" >&2
