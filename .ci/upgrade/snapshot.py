"""Print what an upgrade must keep, as JSON: the rows of every table, each ledger
account's balance from its entries, and the ledger integrity check's findings. Reads
tables with SQL, so the same script runs against any commit's schema."""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django

django.setup()

from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.db import connection  # noqa: E402

from ledger.integrity import ledger_integrity_check  # noqa: E402

# Rows the migration itself may add or rename (Django's own bookkeeping).
SKIP = {"django_migrations", "django_content_type", "auth_permission", "auth_group_permissions"}


def main() -> None:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        tables = [t for (t,) in cur.fetchall() if t not in SKIP]
        counts = {}
        for table in tables:
            cur.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 (names from the catalogue)
            counts[table] = cur.fetchone()[0]
        # The account's owner column: `vendor_id` until ledger 0007 renamed it `holder`.
        cur.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'ledger_account' AND column_name IN ('vendor_id', 'holder')"
        )
        (owner_column,) = cur.fetchone()
        # The column name comes from the catalogue.
        query = (
            f"SELECT a.id, a.purpose, a.{owner_column}, a.currency, a.balance, a.held, "  # noqa: S608
            "coalesce(sum(e.amount), 0) FROM ledger_account a "
            "LEFT JOIN ledger_entry e ON e.account_id = a.id GROUP BY a.id ORDER BY a.id"
        )
        cur.execute(query)
        balances = {
            str(pk): {"account": f"{purpose}:{vendor}:{currency}", "cached": cached,
                      "held": held, "entries": int(total)}
            for pk, purpose, vendor, currency, cached, held, total in cur.fetchall()
        }  # fmt: skip
        links = {}
        if "billing_vendoraccount" in tables:
            cur.execute("SELECT account_id, vendor_id FROM billing_vendoraccount ORDER BY 1")
            links = {str(account): vendor for account, vendor in cur.fetchall()}
    findings = sorted(f.code for f in ledger_integrity_check())
    # Content types of no model of this code: a model that moved apps without its content
    # type leaves its permissions and admin log entries pointing nowhere.
    stale = sorted(
        f"{ct.app_label}.{ct.model}" for ct in ContentType.objects.all() if ct.model_class() is None
    )
    print(
        json.dumps(
            {
                "rows": counts,
                "balances": balances,
                "integrity": findings,
                "links": links,
                "stale_content_types": stale,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
