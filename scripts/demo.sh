#!/usr/bin/env bash
# The main job on a fresh machine, nothing to install but Rust: build the finance example
# (fixtures/projects) into packages and upgrade a SQLite database from v1 to v2 in place.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet -p dac-cli
dac=target/release/dac
out=target/demo
rm -rf "$out" && mkdir -p "$out"
db="sqlite:$out/finance.db"

step() { printf '\n== %s\n' "$*"; }

step "build the two versions of the application into packages"
"$dac" build fixtures/projects/finance-v1 --platform sqlite --name finance --version 1.0.0 -o "$out/finance-1.0.0.dacpac"
"$dac" build fixtures/projects/finance-v2 --platform sqlite --name finance --version 2.0.0 -o "$out/finance-2.0.0.dacpac"

step "deploy v1 to a new database, and add some data"
"$dac" upgrade "$out/finance-1.0.0.dacpac" --target "$db" --in-place
python3 - "$out/finance.db" <<'PY' 2>/dev/null || echo "(python3 not found: skipping sample rows)"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO customers (id, name, email, fax) VALUES (1, 'Ada', 'ada@example.org', '555-0100')")
db.execute("INSERT INTO accounts (id, customer_id, currency, balance_cents) VALUES (1, 1, 'EUR', 1200)")
db.execute("INSERT INTO entries (account_id, amount_cents, memo) VALUES (1, 1200, 'opening balance')")
db.commit()
PY

step "what would v2 do? (the deploy report a reviewer reads)"
"$dac" deploy-report "$out/finance-2.0.0.dacpac" --target "$db" --format text || true

step "upgrade to v2: refused, because dropping customers.fax would lose data (exit 3)"
"$dac" upgrade "$out/finance-2.0.0.dacpac" --target "$db" --in-place || echo "(exit $?)"

step "upgrade to v2, allowing that data loss"
"$dac" upgrade "$out/finance-2.0.0.dacpac" --target "$db" --in-place --allow-data-loss

step "run it again: nothing to do"
"$dac" upgrade "$out/finance-2.0.0.dacpac" --target "$db" --in-place

step "has anyone changed the database outside the package?"
"$dac" drift-report --target "$db" --format text

step "the same upgrade side by side: v2 is built in a new database, the data copied, names switched"
sbs="sqlite:$out/finance-sbs.db"
"$dac" upgrade "$out/finance-1.0.0.dacpac" --target "$sbs" --in-place
python3 - "$out/finance-sbs.db" <<'PY' 2>/dev/null || echo "(python3 not found: skipping sample rows)"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO customers (id, name, email, fax) VALUES (1, 'Ada', 'ada@example.org', '555-0100')")
db.execute("INSERT INTO accounts (id, customer_id, currency, balance_cents) VALUES (1, 1, 'EUR', 1200)")
db.commit()
PY
"$dac" upgrade "$out/finance-2.0.0.dacpac" --target "$sbs" --side-by-side --allow-data-loss --report "$out/transfer.md" --format markdown
ls "$out"

step "and back: the retained original becomes the database again"
"$dac" rollback --target "$sbs"
