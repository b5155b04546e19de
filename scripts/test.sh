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

printf '\nAll checks passed.\n'
