"""Auto top-up rules set from the portal: the auto top-up services
(`fulfilment.auto_topups.services`, the API's) behind the member's role (owner, admin
and developer manage orders) and the member's vendor (another vendor's rule or eSIM is
not found). A paused rule is an inactive one: it fires nothing (the API lists only
active rules) until it is resumed."""

from __future__ import annotations

from typing import Any

from fulfilment.auto_topups.models import AutoTopupRule
from fulfilment.auto_topups.services import auto_topup_rule_create, auto_topup_rule_update
from ttelgo.errors import DomainError
from vendors.members import member_require
from vendors.models import VendorUser


def member_rules(*, member: VendorUser) -> Any:
    member_require(member, "view")
    return (
        AutoTopupRule.objects.filter(vendor=member.vendor)
        .select_related("esim")
        .prefetch_related("runs")
        .order_by("-active", "-created_at", "-id")
    )


def member_rule_get(*, member: VendorUser, rule_id: int) -> AutoTopupRule:
    rule = member_rules(member=member).filter(pk=rule_id).first()
    if rule is None:
        raise DomainError("not_found", "Auto top-up rule not found.")
    return rule


def member_rule_create(*, member: VendorUser, **values: Any) -> AutoTopupRule:
    member_require(member, "orders.manage")
    return auto_topup_rule_create(vendor=member.vendor, **values)


def member_rule_update(*, member: VendorUser, rule_id: int, **changes: Any) -> AutoTopupRule:
    """Change a rule's bundle, levels or limit, or pause (`active=False`) and resume it."""
    member_require(member, "orders.manage")
    rule = member_rule_get(member=member, rule_id=rule_id)
    return auto_topup_rule_update(rule=rule, actor=f"vendor:{member.vendor.pk}", **changes)
