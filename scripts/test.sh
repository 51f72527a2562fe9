#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, every test of every crate.
# Installs what it needs first. Run from anywhere: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "test.sh: cargo is not installed; install Rust (https://rustup.rs) and run again" >&2
  exit 1
fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy

# The live PostgreSQL suite starts a throwaway server from the installed binaries.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ -z "${DAC_TEST_POSTGRES_URL:-}" ]; then
  echo "== installing PostgreSQL server binaries (Debian package postgresql)"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

# Scripts dac writes are run with the platforms' own clients: the sqlite3 shell and psql.
if ! command -v sqlite3 >/dev/null 2>&1; then
  echo "== installing the sqlite3 shell (Debian package sqlite3)"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends sqlite3 >/dev/null
fi

# sqlfluff's T-SQL grammar checks every batch dac writes for SQL Server (tests/tests/tsql_sqlfluff.rs),
# from a project-local venv at the pinned version.
SQLFLUFF_VERSION="$(cat tests/tests/sqlfluff.version)"
if ! target/sqlfluff-venv/bin/sqlfluff --version 2>/dev/null | grep -qF "$SQLFLUFF_VERSION"; then
  echo "== installing sqlfluff $SQLFLUFF_VERSION into target/sqlfluff-venv"
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  mkdir -p target
  rm -rf target/sqlfluff-venv
  python3 -m venv target/sqlfluff-venv
  target/sqlfluff-venv/bin/pip install -q "sqlfluff==$SQLFLUFF_VERSION"
fi

# In CI the shared corpus beside the repository must be there; locally a missing ../shared
# is reported loudly by each suite that needs it and the rest still runs.
if [ "${CI:-}" = "true" ]; then
  export DAC_REQUIRE_SHARED=1
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
mkdir -p target && rm -f target/dac-summary.txt
cargo test --workspace --locked 2>&1 | tee target/test-output.txt
echo "== suite headlines"
sort target/dac-summary.txt 2>/dev/null || echo "(no suite headlines were written)"
# One closing line for CI to read: the sum over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "%d passed, %d failed, %d skipped\n", p, f, i }' target/test-output.txt
