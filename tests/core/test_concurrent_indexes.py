"""An index added to a big table is built without locking its writes.

`CREATE INDEX` holds a SHARE lock for the whole build: on a table of millions of rows
(orders, eSIMs, ledger entries, webhook deliveries) every order, posting or delivery waits
minutes behind a migration. Such migrations use `ttelgo.migration_ops.AddIndexConcurrently`
(`CREATE INDEX CONCURRENTLY` on PostgreSQL, a plain `AddIndex` elsewhere) in a migration
with `atomic = False`. An index created together with its table is not concerned.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, migrations
from django.db.migrations.loader import MigrationLoader

from ttelgo.migration_ops import AddIndexConcurrently

# Tables that reach millions of rows in a busy reseller (bench/scale.py seeds them).
BIG_TABLES = {
    ("orders", "order"),
    ("orders", "orderitem"),
    ("orders", "orderevent"),
    ("fulfilment", "esim"),
    ("ledger", "transaction"),
    ("ledger", "entry"),
    ("ledger", "hold"),
    ("webhooks", "webhookevent"),
    ("webhooks", "webhookdelivery"),
    ("webhooks", "webhookattempt"),
    ("webhooks", "inboundevent"),
    ("ttelgo", "auditlog"),
    ("vendors", "apirequestlog"),
}

# Applied in production before this rule, while these tables were small; rewriting them
# would change nothing for a database that already ran them.
APPLIED_BEFORE = {
    ("webhooks", "0003_webhookdelivery_vendor"),
    ("webhooks", "0008_endpoint_health_and_fair_delivery"),
}


def _index_ops(migration: Any) -> list[tuple[str, Any]]:
    """(model, operation) for every operation of `migration` that builds an index on an
    existing table: AddIndex, or a field added or altered with db_index / unique."""
    created = {
        op.name.lower() for op in migration.operations if isinstance(op, migrations.CreateModel)
    }
    found = []
    for op in migration.operations:
        model = getattr(op, "model_name", None)
        if model is None or model.lower() in created:
            continue
        model = model.lower()
        adds_field_index = isinstance(op, (migrations.AddField, migrations.AlterField)) and (
            getattr(op.field, "db_index", False) or op.field.unique
        )
        if isinstance(op, migrations.AddIndex) or adds_field_index:
            found.append((model, op))
    return found


def _big_table_index_migrations() -> dict[tuple[str, str], list[tuple[str, Any]]]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    out = {}
    for (app, name), migration in sorted(loader.disk_migrations.items()):
        ops = [(m, op) for m, op in _index_ops(migration) if (app, m) in BIG_TABLES]
        if ops:
            out[(app, name)] = ops
    return out


def test_every_index_added_to_a_big_table_is_built_concurrently_outside_a_transaction():
    found = _big_table_index_migrations()
    # The rule has something to check: the console's indexes on orders, eSIMs, the audit log.
    assert ("orders", "0023_order_search_indexes") in found
    assert ("fulfilment", "0005_console_list_indexes") in found
    loader = MigrationLoader(None, ignore_no_migrations=True)
    wrong = []
    for key, ops in found.items():
        if key in APPLIED_BEFORE:
            continue
        migration = loader.disk_migrations[key]
        for model, op in ops:
            if not isinstance(op, AddIndexConcurrently):
                wrong.append(f"{key[0]}.{key[1]}: {type(op).__name__} on {model}")
        if migration.atomic:
            wrong.append(
                f"{key[0]}.{key[1]}: atomic (CREATE INDEX CONCURRENTLY needs atomic = False)"
            )
    assert not wrong, "index builds that would lock a big table's writes:\n" + "\n".join(wrong)


def test_the_list_of_migrations_applied_before_the_rule_names_only_index_migrations():
    assert set(_big_table_index_migrations()) >= APPLIED_BEFORE


def _apply(op: AddIndexConcurrently, *, backwards: bool = False) -> None:
    loader = MigrationLoader(connection)
    state = loader.project_state(("orders", "0023_order_search_indexes"))
    after = state.clone()
    op.state_forwards("orders", after)
    with connection.schema_editor(atomic=False) as editor:
        if backwards:
            op.database_backwards("orders", editor, after, state)
        else:
            op.database_forwards("orders", editor, state, after)


def _indexes() -> set[str]:
    with connection.cursor() as cur:
        return set(connection.introspection.get_constraints(cur, "orders_order"))


@pytest.mark.django_db(transaction=True)
def test_the_concurrent_index_is_built_and_dropped_on_any_database():
    """On SQLite (`make run`) a plain CREATE INDEX; on PostgreSQL CONCURRENTLY, outside
    any transaction."""
    from django.db import models

    op = AddIndexConcurrently(
        model_name="order", index=models.Index(fields=["status", "id"], name="test_concurrent")
    )
    assert "test_concurrent" not in _indexes()
    _apply(op)
    assert "test_concurrent" in _indexes()
    _apply(op, backwards=True)
    assert "test_concurrent" not in _indexes()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failed_concurrent_build_is_retried_after_dropping_its_invalid_index():
    """A concurrent build that failed leaves an INVALID index of that name: the migration
    run again drops it and builds it, rather than failing on "already exists"."""
    from django.db import models

    with connection.cursor() as cur:
        # What a failed CREATE INDEX CONCURRENTLY leaves: the index, marked invalid.
        cur.execute("CREATE INDEX test_concurrent ON orders_order (status, id)")
        cur.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'test_concurrent'::regclass"
        )
    op = AddIndexConcurrently(
        model_name="order", index=models.Index(fields=["status", "id"], name="test_concurrent")
    )
    try:
        _apply(op)
        with connection.cursor() as cur:
            cur.execute(
                "SELECT indisvalid FROM pg_index WHERE indexrelid = 'test_concurrent'::regclass"
            )
            assert cur.fetchone() == (True,)
    finally:
        with connection.cursor() as cur:
            cur.execute("DROP INDEX IF EXISTS test_concurrent")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_build_says_concurrently():
    from django.db import models

    op = AddIndexConcurrently(
        model_name="order", index=models.Index(fields=["status"], name="test_concurrent")
    )
    loader = MigrationLoader(connection)
    state = loader.project_state(("orders", "0023_order_search_indexes"))
    after = state.clone()
    op.state_forwards("orders", after)
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        op.database_forwards("orders", editor, state, after)
    assert any("CREATE INDEX CONCURRENTLY" in sql for sql in editor.collected_sql)
