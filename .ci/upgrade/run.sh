#!/usr/bin/env bash
# Upgrade test: build a database with the code of an older commit, fill it through that
# commit's services, then migrate it with this checkout's code and check that every row
# count, every ledger balance and the integrity check are unchanged.
#   .ci/services.sh run .ci/upgrade/run.sh        (make test-upgrade)
# UPGRADE_FROM picks the base commits (space-separated). By default each of these, in turn:
#   6570ad0  the last commit before models moved apps (esims -> orders, sandbox, billing...)
#   626493f  the last commit before the catalogue app was renamed (esims -> catalogue)
#   ca706e4  the last commit before fulfilment left orders (orders -> fulfilment)
# Each base gets a database of its own (and an empty Redis).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
BASES="${UPGRADE_FROM:-6570ad0 626493f ca706e4}"
if [ "$(wc -w <<<"$BASES")" -gt 1 ]; then
  for base in $BASES; do UPGRADE_FROM="$base" "$0"; done
  exit 0
fi
BASE="$BASES"
# A new empty database next to the one .ci/services.sh made; DATABASE_URL points at it.
DATABASE_URL="$("$PY" - "$DATABASE_URL" "ttelgo_upgrade_$BASE" <<'PYEOF'
import sys
import psycopg
url, name = sys.argv[1:3]
with psycopg.connect(url, autocommit=True) as conn:
    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    conn.execute(f'CREATE DATABASE "{name}"')
print(url.rsplit("/", 1)[0] + "/" + name)
PYEOF
)"
export DATABASE_URL
if [ -n "${REDIS_URL:-}" ]; then redis-cli -u "$REDIS_URL" flushall >/dev/null; fi
WORK="$(mktemp -d /tmp/ttelgo-upgrade.XXXXXX)"
cleanup() { git -C "$ROOT" worktree remove --force "$WORK/base" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

if ! git -C "$ROOT" cat-file -e "$BASE^{commit}" 2>/dev/null; then
  git -C "$ROOT" fetch --quiet --unshallow 2>/dev/null || true
fi
if ! git -C "$ROOT" cat-file -e "$BASE^{commit}" 2>/dev/null; then
  echo "upgrade: SKIPPED - commit $BASE is not in this clone (a shallow clone?); clone the full history to run it" >&2
  exit 0
fi
git -C "$ROOT" worktree add --detach --quiet "$WORK/base" "$BASE"
echo "upgrade: base $(git -C "$WORK/base" log --oneline -1)"
# Settings moved from ttelgo/settings to config/settings; each tree uses its own.
settings_of() { if [ -d "$1/config/settings" ]; then echo config.settings.test; else echo ttelgo.settings.test; fi; }
BASE_SETTINGS="$(settings_of "$WORK/base")"
HEAD_SETTINGS="$(settings_of "$ROOT")"
(cd "$WORK/base" && DJANGO_SETTINGS_MODULE=$BASE_SETTINGS "$PY" "$ROOT/.ci/upgrade/fill.py")
(cd "$WORK/base" && DJANGO_SETTINGS_MODULE=$BASE_SETTINGS "$PY" "$ROOT/.ci/upgrade/snapshot.py") > "$WORK/before.json"
(cd "$ROOT" && DJANGO_SETTINGS_MODULE=$HEAD_SETTINGS "$PY" manage.py migrate --noinput -v 1 | grep -E "Apply|No migrations" || true)
(cd "$ROOT" && DJANGO_SETTINGS_MODULE=$HEAD_SETTINGS "$PY" "$ROOT/.ci/upgrade/snapshot.py") > "$WORK/after.json"
"$PY" - "$WORK/before.json" "$WORK/after.json" <<'PYEOF'
import json, sys
before, after = (json.load(open(p)) for p in sys.argv[1:3])
problems = []
for table, n in before["rows"].items():
    if after["rows"].get(table) != n:
        problems.append(f"table {table}: {n} rows before, {after['rows'].get(table)} after")
# Tables a migration fills from existing rows, and the rows they must hold.
vendor_accounts = {
    pk: int(b["account"].split(":")[1])
    for pk, b in before["balances"].items()
    if b["account"].split(":")[1] != "None"
}
DERIVED = {"billing_vendoraccount": ("one link per vendor account", vendor_accounts)}
for table in set(after["rows"]) - set(before["rows"]):
    if table in DERIVED and table not in before["rows"]:
        what, expected = DERIVED[table]
        if after["links"] != {k: v for k, v in expected.items()}:
            problems.append(f"new table {table}: expected {what}, got {after['links']}")
    elif after["rows"][table]:
        problems.append(f"new table {table} has {after['rows'][table]} rows")
if before["balances"] != after["balances"]:
    problems.append("ledger balances changed")
stale = set(after["stale_content_types"]) - set(before["stale_content_types"])
if stale:
    problems.append(f"content types of no model (moved without them?): {sorted(stale)}")
if after["integrity"]:
    problems.append(f"integrity check: {after['integrity']}")
rows = sum(before["rows"].values())
print(f"upgrade: {len(before['rows'])} tables, {rows} rows, {len(before['balances'])} accounts compared")
if problems:
    print("upgrade: FAILED\n  " + "\n  ".join(problems))
    sys.exit(1)
print("upgrade: every row, balance and the integrity check unchanged")
PYEOF
