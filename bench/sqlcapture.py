"""Capture the exact SQL one request issues, and turn it into a pgbench script.

Every statement is recorded with its parameters, in order, together with the transaction
boundaries Django opens and closes and the connection health check (which never reach
`execute_wrapper`). Rendering puts
each parameter back as the literal psycopg would send and swaps the per-request values
for pgbench variables:

* ids the request's own INSERTs returned become `\\gset` variables (`:orders_order_id`),
  also where they sit inside a longer string (`'order:' || :orders_order_id || ':hold'`);
* values of the calling vendor (its id, key, accounts) come from a lookup table row
  chosen per transaction (`bench_vendor`), so one script spreads over many vendors;
* the Idempotency-Key becomes a random value per transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

_INSERT_RETURNING = re.compile(r'^\s*INSERT INTO "?(\w+)"?.*\bRETURNING\b', re.S | re.I)
_QUOTED = re.compile(r"^(E?)'(.*)'((?:::[\w ]+)?)$", re.S)


@dataclass
class Statement:
    """One step: `sql` with `%s` placeholders and its literals, or a BEGIN/COMMIT marker."""

    sql: str
    literals: list[str] = field(default_factory=list)
    raw: list[Any] = field(default_factory=list)
    returning_table: str | None = None
    returned: dict[str, Any] = field(default_factory=dict)


@contextmanager
def capture_sql() -> Iterator[list[Statement]]:
    """Record every statement run on the default connection in this thread."""
    statements: list[Statement] = []

    def wrapper(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        raw_cursor = context["cursor"].cursor
        batches = [list(batch or []) for batch in (params if many else [params])]
        # mogrify before executing: it resets the cursor's result
        rendered = [[raw_cursor.mogrify("%s", [v]) for v in values] for values in batches]
        result = execute(sql, params, many, context)
        for values, literals in zip(batches, rendered, strict=True):
            stmt = Statement(sql=sql, literals=literals, raw=values)
            match = _INSERT_RETURNING.match(sql)
            if match and not many and raw_cursor.rowcount == 1 and raw_cursor.description:
                row = raw_cursor.fetchone()
                raw_cursor.scroll(0, mode="absolute")  # hand Django the rows untouched
                names = [d.name for d in raw_cursor.description]
                stmt.returning_table = match.group(1)
                stmt.returned = dict(zip(names, row or (), strict=False))
            statements.append(stmt)
        return result

    originals = {
        name: getattr(connection, name)
        for name in ("set_autocommit", "commit", "rollback", "is_usable")
    }

    def set_autocommit(autocommit: bool, *args: Any, **kwargs: Any) -> Any:
        if not autocommit:
            statements.append(Statement(sql="BEGIN"))
        return originals["set_autocommit"](autocommit, *args, **kwargs)

    def commit() -> Any:
        statements.append(Statement(sql="COMMIT"))
        return originals["commit"]()

    def rollback() -> Any:
        statements.append(Statement(sql="ROLLBACK"))
        return originals["rollback"]()

    def is_usable() -> Any:
        # CONN_HEALTH_CHECKS: Django runs it on the driver's own cursor, at the first query of
        # each request on a persistent connection.
        statements.append(Statement(sql="SELECT 1"))
        return originals["is_usable"]()

    connection.set_autocommit = set_autocommit  # type: ignore[method-assign]
    connection.is_usable = is_usable  # type: ignore[method-assign]
    connection.commit = commit  # type: ignore[method-assign]
    connection.rollback = rollback  # type: ignore[method-assign]
    try:
        with connection.execute_wrapper(wrapper):
            yield statements
    finally:
        for name, fn in originals.items():
            setattr(connection, name, fn)


def _split_placeholders(sql: str) -> list[str]:
    """`a = %s AND b LIKE '%%x'` -> ['a = ', " AND b LIKE '%x'"] (psycopg's format rules)."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(sql):
        if sql.startswith("%%", i):
            current.append("%")
            i += 2
        elif sql.startswith("%s", i):
            parts.append("".join(current))
            current = []
            i += 2
        else:
            current.append(sql[i])
            i += 1
    parts.append("".join(current))
    return parts


def _with_variables(literal: str, raw: Any, variables: dict[str, str]) -> str:
    """The literal, or an expression using pgbench variables where it holds a dynamic value."""
    if isinstance(raw, bool):
        return literal
    text = str(raw)
    if text in variables:
        var = variables[text]
        return f":{var}" if isinstance(raw, int) else f"':{var}'"
    quoted = _QUOTED.match(literal)
    if not quoted:
        return literal
    prefix, inner, cast = quoted.groups()
    pieces = _split_on(inner, variables)
    if len(pieces) == 1:
        return literal
    rendered = " || ".join(
        f"{prefix}'{piece}'" if kind == "text" else f":{piece}" for kind, piece in pieces if piece
    )
    return f"({rendered}){cast}"


def _split_on(inner: str, variables: dict[str, str]) -> list[tuple[str, str]]:
    """Split a string literal's body around occurrences of dynamic values (longest first)."""
    for value in sorted(variables, key=len, reverse=True):
        if len(value) < 4:
            continue  # too short to be told from ordinary text
        idx = _find_token(inner, value)
        if idx >= 0:
            head, tail = inner[:idx], inner[idx + len(value) :]
            return [
                *_split_on(head, variables),
                ("var", variables[value]),
                *_split_on(tail, variables),
            ]
    return [("text", inner)]


def _find_token(text: str, value: str) -> int:
    """Index of `value` in `text` not glued to other digits/letters (12 is not in 123)."""
    start = 0
    while True:
        idx = text.find(value, start)
        if idx < 0:
            return -1
        before = text[idx - 1] if idx > 0 else ""
        after = text[idx + len(value)] if idx + len(value) < len(text) else ""
        if not (before.isalnum() or after.isalnum()):
            return idx
        start = idx + 1


def render_pgbench(
    statements: list[Statement],
    *,
    vendor_values: dict[str, str],
    idempotency_key: str,
    vendor_choice: str,
) -> str:
    """A pgbench script replaying `statements`. `vendor_values` maps the calling vendor's
    values (as text) to `bench_vendor` column names; `vendor_choice` is the pgbench
    expression that picks the row (`random(1, 1000)`, or `1` for one hot vendor)."""
    variables: dict[str, str] = {value: f"v_{col}" for value, col in vendor_values.items()}
    variables[idempotency_key] = "ikey"
    lines = [
        "-- generated by bench/run.py from one captured POST /api/v1/vendor/orders",
        f"\\set vn {vendor_choice}",
        "\\set ikey random(1, 9000000000000000)",
        "SELECT * FROM bench_vendor WHERE n = :vn \\gset v_",
    ]
    for stmt in statements:
        if stmt.sql in ("BEGIN", "COMMIT", "ROLLBACK"):
            lines.append(f"{stmt.sql};")
            continue
        parts = _split_placeholders(stmt.sql)
        if len(parts) - 1 != len(stmt.literals):
            raise ValueError(f"placeholder count mismatch in: {stmt.sql[:120]}")
        out = [parts[0]]
        for literal, raw, tail in zip(stmt.literals, stmt.raw, parts[1:], strict=True):
            out.extend([_with_variables(literal, raw, variables), tail])
        sql = "".join(out).strip().rstrip(";")
        if stmt.returning_table:
            lines.append(f"{sql} \\gset {stmt.returning_table}_")
            for col, value in stmt.returned.items():
                if isinstance(value, int | str) and not isinstance(value, bool):
                    variables.setdefault(str(value), f"{stmt.returning_table}_{col}")
        else:
            lines.append(f"{sql};")
    return "\n".join(lines) + "\n"
