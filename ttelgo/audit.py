"""The audit log: every operator action and every money movement it causes."""

from __future__ import annotations

import json
from typing import Any

import structlog
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from ttelgo.models import AuditLog


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))


def actor_label_of(actor: Any) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor[:150]
    if getattr(actor, "is_authenticated", False):
        return str(getattr(actor, "email", "") or actor)[:150]
    return str(actor)[:150]


def audit_record(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditLog:
    """Append one audit row. `actor` is a user, a label like "vendor:3", or None (system).
    Call it inside the transaction of the change it describes, so both commit or neither."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditLog.objects.create(
        actor=user,
        actor_label=actor_label_of(actor),
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:255] if target is not None else "",
        before=_jsonable(before),
        after=_jsonable(after),
        reason=reason,
        request_id=str(structlog.contextvars.get_contextvars().get("request_id", ""))[:128],
    )


def snapshot(obj: models.Model, fields: list[str]) -> dict[str, Any]:
    """The named fields of `obj` as a dict, for `before`/`after`."""
    return {name: getattr(obj, name) for name in fields}
