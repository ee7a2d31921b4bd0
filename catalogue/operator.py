"""Catalogue operations from the console (edit_catalogue): sync now, hide/show bundles,
overrides and price rules. Each is audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from catalogue.models import Bundle, PriceRule, ProviderRule
from ttelgo.audit import audit_record
from ttelgo.outbox import task_enqueue
from ttelgo.permissions import operator_require

PERM = "ttelgo.edit_catalogue"


def operator_catalogue_sync(*, actor: Any) -> None:
    """Queue a catalogue sync on a worker (the console's "Sync now"): the click returns at
    once and the bundle list shows the sync's progress and outcome."""
    from catalogue.services import catalogue_sync_status_set

    operator_require(actor, PERM)
    with transaction.atomic():
        catalogue_sync_status_set("queued", by=str(actor))
        audit_record(actor=actor, action="catalogue.sync")
        task_enqueue("catalogue.tasks.catalogue_sync")


def operator_bundle_overrides(*, bundle_id: int, actor: Any, **overrides: Any) -> Bundle:
    from catalogue.services import bundle_overrides_update

    operator_require(actor, PERM)
    with transaction.atomic():
        bundle = Bundle.objects.get(pk=bundle_id)
        before = {name: getattr(bundle, name) for name in overrides}
        bundle = bundle_overrides_update(bundle=bundle, **overrides)
        audit_record(
            actor=actor,
            action="catalogue.bundle_overrides",
            target=bundle,
            before=before,
            after={name: getattr(bundle, name) for name in overrides},
        )
    return bundle


def operator_price_rule_save(*, rule: PriceRule, actor: Any, changed: list[str]) -> int:
    from catalogue.services import price_rule_save

    operator_require(actor, PERM)
    with transaction.atomic():
        repriced = price_rule_save(rule=rule)
        audit_record(
            actor=actor,
            action="catalogue.price_rule_save",
            target=rule,
            after={**{name: getattr(rule, name) for name in changed}, "repriced": repriced},
        )
    return repriced


def operator_price_rule_delete(*, rule: PriceRule, actor: Any) -> int:
    from catalogue.services import price_rule_delete

    operator_require(actor, PERM)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="catalogue.price_rule_delete",
            target=rule,
            before={"rule": str(rule), "markup_bps": rule.markup_bps},
        )
        return price_rule_delete(rule=rule)


def operator_provider_rule_save(*, rule: ProviderRule, actor: Any, changed: list[str]) -> None:
    """Save an operator's routing rule for a provider (priority, drain), audited; routing
    reads it for the next order."""
    operator_require(actor, PERM)
    found = (
        ProviderRule.objects.filter(pk=rule.pk).values("priority", "drained").first()
        if rule.pk
        else None
    )
    before = dict(found) if found is not None else None
    with transaction.atomic():
        rule.save()
        audit_record(
            actor=actor,
            action="catalogue.provider_rule_save",
            target=rule,
            before=before,
            after={"priority": rule.priority, "drained": rule.drained, "note": rule.note},
            reason=rule.note,
        )
