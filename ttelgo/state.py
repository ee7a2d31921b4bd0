"""Status columns as state machines: one table shape and one compare-and-set transition.

Every status column (orders, payments and their refunds, vendors, eSIMs and their
refunds, auto top-up runs, webhook deliveries, inbound events, tickets, invoices,
reconciliation runs and findings) declares a `StateTable` of the moves it allows and,
where operators act on it, `actions`: which statuses each named action starts from.
Services perform moves with `transition` (read, check, compare-and-set one row,
`invalid_state` when it lost) or `transition_rows` (one conditional UPDATE whose row
count says who won: claims and sweeps); nothing else writes a status column
(tests/core/test_state_tables.py keeps it so, and names the few exceptions). Admin
pages ask the same table (`table.may("refund", status)`) instead of keeping their own
list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from ttelgo.errors import DomainError


@dataclass(frozen=True)
class StateTable:
    """`allowed[status]`: where a row in `status` may go. `actions[name]`: the statuses an
    operator or API action may start from (it need not be a single move)."""

    name: str
    allowed: Mapping[str, frozenset[str]]
    actions: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        name: str,
        allowed: Mapping[str, Iterable[str]],
        actions: Mapping[str, Iterable[str]] | None = None,
    ) -> StateTable:
        return cls(
            name=name,
            allowed={str(k): frozenset(map(str, v)) for k, v in allowed.items()},
            actions={k: frozenset(map(str, v)) for k, v in (actions or {}).items()},
        )

    def can(self, source: str, target: str) -> bool:
        return target in self.allowed.get(source, frozenset())

    def may(self, action: str, status: str) -> bool:
        return status in self.actions[action]

    @property
    def terminal(self) -> frozenset[str]:
        return frozenset(s for s, targets in self.allowed.items() if not targets)

    def refuse(
        self, ident: Any, current: str, requested: str, action: str | None = None
    ) -> DomainError:
        message = (
            f"Cannot {action} a {self.name.lower()} that is {current}."
            if action
            else f"{self.name} {ident} cannot go from {current} to {requested}."
        )
        return DomainError(
            "invalid_state", message, details={"status": current, "requested": requested}
        )


def transition[M: models.Model](
    model: type[M],
    *,
    pk: Any,
    table: StateTable,
    to: str,
    expected: str | Iterable[str] | None = None,
    action: str | None = None,
    status_field: str = "status",
    stamp_field: str | None = "updated_at",
    **fields: Any,
) -> tuple[M, str]:
    """Move row `pk` of `model` to `to`, if `table` allows it from its current status (and
    the status is one of `expected`, or one `action` starts from). Compare-and-set: the
    UPDATE matches the status read, so of two concurrent moves only one wins and the other
    gets `invalid_state`. `fields` are written in the same UPDATE. Returns the row as it
    is now and the status it left; the caller records its event row in the same
    transaction."""
    with transaction.atomic():
        row = model._default_manager.get(pk=pk)
        current = str(getattr(row, status_field))
        allowed_from: frozenset[str] | None = None
        if isinstance(expected, str):
            allowed_from = frozenset({expected})
        elif expected is not None:
            allowed_from = frozenset(expected)
        if action is not None:
            allowed_from = table.actions[action] & (allowed_from or table.actions[action])
        if (allowed_from is not None and current not in allowed_from) or not table.can(current, to):
            raise table.refuse(pk, current, to, action)
        if stamp_field:
            fields.setdefault(stamp_field, timezone.now())
        changed = model._default_manager.filter(pk=pk, **{status_field: current}).update(
            **{status_field: to}, **fields
        )
        if changed != 1:
            raise DomainError(
                "invalid_state",
                f"{table.name} {pk} changed while moving to {to}; try again.",
                details={"status": current, "requested": to},
            )
        row.refresh_from_db()
        return row, current


def transition_rows(
    rows: models.QuerySet[Any],
    *,
    table: StateTable,
    to: str,
    expected: str | Iterable[str],
    status_field: str = "status",
    **fields: Any,
) -> int:
    """Move every row of `rows` whose status is one of `expected` to `to`, in one
    conditional UPDATE, and return how many moved (healthchecks' `sendalerts`): the row
    count decides, so of two concurrent moves of one row only one changes it and the
    other sees 0 (a claim lost, or a move already made). Nothing is read first; a caller
    that holds the row lock passes the status it read and always sees 1.

    Every `expected -> to` must be a move `table` declares, or `invalid_state` is raised
    before anything is written. A row already in `to` is not moving: listing `to` in
    `expected` updates such a row's other `fields` in place (a retry stays pending)."""
    sources = frozenset({expected} if isinstance(expected, str) else map(str, expected))
    for source in sorted(sources):
        if source != to and not table.can(source, to):
            raise table.refuse("*", source, to)
    return rows.filter(**{f"{status_field}__in": sources}).update(**{status_field: to}, **fields)
