#!/usr/bin/env bash
# The main job on a fresh machine, nothing to install but Rust: build the dac binary, build the
# finance example (fixtures/projects) into SQLite packages and describe them.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet -p dac-cli
dac=target/release/dac
out=target/demo
mkdir -p "$out"
"$dac" build fixtures/projects/finance-v1 --platform sqlite --name finance --version 1.0.0 -o "$out/finance-v1.dacpac"
"$dac" build fixtures/projects/finance-v2 --platform sqlite --name finance --version 2.0.0 -o "$out/finance-v2.dacpac"
"$dac" info "$out/finance-v2.dacpac"
