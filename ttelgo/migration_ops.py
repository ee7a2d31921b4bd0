"""Operations shared by migrations: moving a model from one app to another, and adding
an index to a big table without locking its writes.

A moved model keeps its table and rows (a state-only `CreateModel` in the new app, a
state-only `DeleteModel` in the old one); its content type follows it so permissions,
admin log entries and history rows keep pointing at it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently as PostgresAddIndexConcurrently
from django.db import migrations


def content_types_move(*, models: Sequence[str], from_app: str, to_app: str) -> Any:
    """A reversible `RunPython` that relabels the content types of `models` (lower-case
    model names). A database created with the new code already has them: nothing to do."""
    names = tuple(models)

    def forward(apps: Any, schema_editor: Any) -> None:
        content_type = apps.get_model("contenttypes", "ContentType")
        if content_type.objects.filter(app_label=to_app, model__in=names).exists():
            return
        content_type.objects.filter(app_label=from_app, model__in=names).update(app_label=to_app)

    def backward(apps: Any, schema_editor: Any) -> None:
        content_type = apps.get_model("contenttypes", "ContentType")
        content_type.objects.filter(app_label=to_app, model__in=names).update(app_label=from_app)

    return migrations.RunPython(forward, backward)


class AddIndexConcurrently(PostgresAddIndexConcurrently):
    """`AddIndex` that builds the index without locking writes on PostgreSQL (`CREATE
    INDEX CONCURRENTLY`), and is a plain `AddIndex` on any other database (SQLite for
    `make run`). Its migration must say `atomic = False`: PostgreSQL refuses a concurrent
    build inside a transaction. Every index added to a big table (orders, eSIMs, the
    ledger, webhook deliveries, ...) takes this form (tests/core/test_concurrent_indexes.py).

    A concurrent build that fails (a deadlock, a cancelled statement) leaves an INVALID
    index behind; re-running the migration first drops it, so a retry is always possible."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            migrations.AddIndex.database_forwards(
                self, app_label, schema_editor, from_state, to_state
            )
            return
        with schema_editor.connection.cursor() as cur:
            cur.execute(
                "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE c.relname = %s AND NOT i.indisvalid",
                [self.index.name],
            )
            if cur.fetchone():
                schema_editor.execute(
                    f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(self.index.name)}"
                )
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            migrations.AddIndex.database_backwards(
                self, app_label, schema_editor, from_state, to_state
            )
            return
        super().database_backwards(app_label, schema_editor, from_state, to_state)
