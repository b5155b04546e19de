#!/usr/bin/env bash
# The one test command: formatting, lints, then every test of the workspace.
# It installs what it needs and stops at the first failure with a clear message.
set -euo pipefail

cd "$(dirname "$0")/.."

# One target directory outside the clone saves minutes between runs; nothing
# depends on it being there.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/crm/target}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

step "toolchain"
command -v cargo >/dev/null || fail "cargo is not installed (install Rust with rustup)"
if command -v rustup >/dev/null; then
    rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
cargo --version
rustc --version

step "cargo fmt --check"
cargo fmt --all --check || fail "formatting differs; run: cargo fmt --all"
cargo fmt --all --check --manifest-path plugins/Cargo.toml \
    || fail "plugin formatting differs; run: cargo fmt --all --manifest-path plugins/Cargo.toml"

step "plugins and test fixtures for wasm32-wasip2"
if command -v rustup >/dev/null; then
    rustup target list --installed 2>/dev/null | grep -q '^wasm32-wasip2$' || rustup target add wasm32-wasip2
fi
cargo build --release --locked --target wasm32-wasip2 --manifest-path plugins/Cargo.toml \
    || fail "the plugins did not build for wasm32-wasip2"
cargo clippy --release --locked --target wasm32-wasip2 --manifest-path plugins/Cargo.toml -- -D warnings \
    || fail "clippy found problems in the plugins"
export CRM_PLUGINS_DIR="$CARGO_TARGET_DIR/wasm32-wasip2/release"
# The plugins' own logic, natively against the SDK's mock host.
cargo test --locked --manifest-path plugins/Cargo.toml -p crm-plugin-sdk -p crm-plugin-appliance-service \
    -p crm-plugin-real-estate-handover \
    || fail "plugin unit tests failed"

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings || fail "clippy found problems"

step "cargo test --workspace"
cargo test --workspace --locked || fail "tests failed"

step "Python bindings: build, stubs, tests"
# A virtual environment of its own (kept beside the cargo cache, rebuilt if
# missing) with the build and test tools; the package is installed with
# pip exactly as a user would.
VENV="${CRM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/crm/venv}"
PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null || fail "python3 is not installed"
if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
        # Debian and Ubuntu ship venv separately.
        if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
            apt-get install -y -qq python3-venv >/dev/null || fail "cannot install python3-venv"
            rm -rf "$VENV"
            "$PYTHON" -m venv "$VENV" || fail "cannot create a virtual environment"
        else
            fail "python3 cannot create a virtual environment (install python3-venv)"
        fi
    fi
fi
export PYO3_PYTHON="$VENV/bin/python"
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install -q -r bindings/python/requirements-test.txt \
    || fail "cannot install the Python test packages"
cargo fmt --all --check --manifest-path bindings/python/Cargo.toml \
    || fail "binding formatting differs; run: cargo fmt --all --manifest-path bindings/python/Cargo.toml"
cargo clippy --locked --manifest-path bindings/python/Cargo.toml --all-targets -- -D warnings \
    || fail "clippy found problems in the Python bindings"
PATH="$VENV/bin:$PATH" "$VENV/bin/python" -m pip install -q --no-build-isolation ./bindings/python \
    || fail "pip install ./bindings/python failed"
"$VENV/bin/python" -m mypy.stubtest crm._crm --allowlist bindings/python/stubtest-allowlist.txt \
    || fail "the stubs (bindings/python/python/crm/_crm.pyi) do not match the module"
CRM_BIN="$CARGO_TARGET_DIR/debug/crm" "$VENV/bin/python" -m pytest -q -rs bindings/python/tests \
    || fail "Python tests failed"

step "benchmark report renders from the committed outputs"
# benches/report.py reads each bench's printed figures with patterns; a bench
# whose output changed shape would leave a goal "not measured".
report=$("$VENV/bin/python" benches/report.py benches/report 0 --check) || fail "benches/report.py failed"
if printf '%s\n' "$report" | grep -q "not measured"; then
    fail "BENCHMARKS.md would miss a goal: a bench's output no longer matches benches/report.py"
fi

printf '\nAll checks passed.\n'
