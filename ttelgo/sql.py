"""Hand-written statements for the hottest request paths, with model instances in and out.

Django's query compiler costs 0.4-0.7 ms of CPU per statement on these machines (building
the query, compiling it, instantiating rows); the statement itself costs PostgreSQL about
0.1 ms. On `POST /api/v1/vendor/orders` that made Python, not the database, the limit
(docs/PERFORMANCE.md). These helpers keep what the ORM does that matters for correctness,
the field conversions in both directions (`Field.pre_save` / `get_db_prep_save` on the
way in, the backend's and the field's converters and `Model.from_db` on the way out), and
skip the per-call compilation: each model's column list and converters are worked out once
per connection.

What they do not do: signals, `save()` overrides, history. Use them only for models with
none of those, on paths a test pins down; everywhere else the ORM is the default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import AutoField, BigAutoField, Field, Model, SmallAutoField

_AUTO_FIELDS = (AutoField, BigAutoField, SmallAutoField)


@dataclass(frozen=True)
class _Shape:
    attnames: list[str]
    converters: list[tuple[int, list[Any], Any]]  # (column index, converters, expression)


def _cache() -> dict[Any, Any]:
    # On the connection wrapper: converters may be bound to its `ops`, and each thread has
    # its own wrapper.
    cache = getattr(connection, "_ttelgo_sql_cache", None)
    if cache is None:
        cache = {}
        connection._ttelgo_sql_cache = cache  # type: ignore[attr-defined]
    return cache


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model: type[Model]) -> str:
    return _quote(model._meta.db_table)


def columns(model: type[Model], alias: str) -> str:
    """`alias.col, ...` for every concrete field, in the order `build` reads them."""
    key = ("columns", model, alias)
    cache = _cache()
    text = cache.get(key)
    if text is None:
        qa = _quote(alias)
        text = ", ".join(f"{qa}.{_quote(f.column)}" for f in model._meta.concrete_fields)
        cache[key] = text
    return text


def _shape(model: type[Model]) -> _Shape:
    key = ("shape", model)
    cache = _cache()
    shape = cache.get(key)
    if shape is None:
        fields: Sequence[Field[Any, Any]] = model._meta.concrete_fields
        converters = []
        for i, field in enumerate(fields):
            col = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if found:
                converters.append((i, found, col))
        shape = _Shape(attnames=[f.attname for f in fields], converters=converters)
        cache[key] = shape
    return shape


def build[M: Model](model: type[M], row: Sequence[Any], start: int = 0) -> tuple[M, int]:
    """The instance in `row[start:]` (columns as from `columns(model, ...)`), and where the
    next model's columns begin."""
    shape = _shape(model)
    end = start + len(shape.attnames)
    values = list(row[start:end])
    for i, converters, col in shape.converters:
        value = values[i]
        for converter in converters:
            value = converter(value, col, connection)
        values[i] = value
    return model.from_db(connection.alias, shape.attnames, values), end


Source = tuple[type[Model], str]  # a model and its alias in the statement


def select(sources: Sequence[Source], rest: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """`SELECT <every column of each source> FROM <first source's table> <alias> <rest>`:
    each row as a tuple of instances, one per source. Joins go in `rest`."""
    model, alias = sources[0]
    statement = "SELECT {} FROM {} {} {}".format(  # noqa: S608 (names from the models)
        ", ".join(columns(m, a) for m, a in sources), table(model), _quote(alias), rest
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    result = []
    for row in rows:
        instances = []
        at = 0
        for source_model, _ in sources:
            instance, at = build(source_model, row, at)
            instances.append(instance)
        result.append(tuple(instances))
    return result


def select_one(sources: Sequence[Source], rest: str, params: Sequence[Any]) -> Any:
    """The first row's instance (one source) or tuple of instances (several); None."""
    rows = select(sources, rest, params)
    if not rows:
        return None
    return rows[0][0] if len(sources) == 1 else rows[0]


def exists(model: type[Model], alias: str, rest: str, params: Sequence[Any]) -> bool:
    statement = f"SELECT 1 FROM {table(model)} {_quote(alias)} {rest} LIMIT 1"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone() is not None


def for_no_key_update() -> str:
    """` FOR NO KEY UPDATE` where the database has row locks (SQLite locks the whole file).

    The lock for rows whose key is not changed: it does not conflict with the `FOR KEY
    SHARE` that PostgreSQL's foreign-key checks take, so inserting a row that points at a
    locked one (an entry, a hold) never waits for it."""
    return " FOR NO KEY UPDATE" if connection.features.has_select_for_update else ""


def _insert_shape(
    model: type[Model], on_conflict: str
) -> tuple[str, list[Field[Any, Any]], Field[Any, Any]]:
    key = ("insert", model, on_conflict)
    cache = _cache()
    shape = cache.get(key)
    if shape is None:
        pk = model._meta.pk
        assert pk is not None
        fields = [
            f
            for f in model._meta.concrete_fields
            if not (f.primary_key and isinstance(f, _AUTO_FIELDS))
        ]
        sql = "INSERT INTO {} ({}) VALUES ({}){} RETURNING {}".format(  # noqa: S608 (model names)
            table(model),
            ", ".join(_quote(f.column) for f in fields),
            ", ".join(["%s"] * len(fields)),
            on_conflict,
            _quote(pk.column),
        )
        shape = (sql, fields, pk)
        cache[key] = shape
    return shape


def _insert(obj: Model, on_conflict: str = "") -> bool:
    sql, fields, pk = _insert_shape(type(obj), on_conflict)
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    setattr(obj, pk.attname, row[0])
    obj._state.adding = False
    obj._state.db = connection.alias
    return True


def insert[M: Model](obj: M) -> M:
    """INSERT a new instance, like `obj.save(force_insert=True)` for a model without
    signals or save() overrides: defaults, `auto_now(_add)` and value preparation from its
    fields; the primary key set on `obj`."""
    inserted = _insert(obj)
    assert inserted
    return obj


def insert_or_skip(obj: Model) -> bool:
    """`insert`, unless it would break a unique constraint: then nothing is written (no
    error, so no savepoint is needed inside a transaction) and False is returned."""
    return _insert(obj, " ON CONFLICT DO NOTHING")


def update(model: type[Model], *, where: dict[str, Any], **values: Any) -> int:
    """`model.objects.filter(**where).update(**values)` for plain equality filters on
    fields (`None` matches NULL); the number of rows changed."""

    def field(name: str) -> Field[Any, Any]:
        found = model._meta.pk if name == "pk" else model._meta.get_field(name)
        assert isinstance(found, Field), name
        return found

    assignments = ", ".join(f"{_quote(field(name).column)} = %s" for name in values)
    params = [field(name).get_db_prep_save(value, connection) for name, value in values.items()]
    conditions = []
    for name, value in where.items():
        column = _quote(field(name).column)
        if value is None:
            conditions.append(f"{column} IS NULL")
        else:
            conditions.append(f"{column} = %s")
            params.append(field(name).get_db_prep_value(value, connection))
    statement = f"UPDATE {table(model)} SET {assignments} WHERE {' AND '.join(conditions)}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return int(cursor.rowcount)
