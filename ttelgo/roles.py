"""Operator roles as Django groups: support, finance, admin.

The groups are created by a data migration (ttelgo 0005); `roles_sync()` (run after
every migrate through post_migrate) gives each group its permissions, so models added
later are covered too.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

SUPPORT, FINANCE, ADMIN = "support", "finance", "admin"
ROLES = (SUPPORT, FINANCE, ADMIN)


def operated_apps() -> list[str]:
    """Apps whose data operators look after (their AppConfig says `operated = True`);
    every role may view all of it."""
    return [c.label for c in global_apps.get_app_configs() if getattr(c, "operated", False)]


ROLE_ACTIONS: dict[str, tuple[str, ...]] = {
    SUPPORT: ("cancel_orders", "refund_small", "redrive_orders", "answer_tickets"),
    FINANCE: (
        "refund_small",
        "refund_any",
        "change_credit_limit",
        "adjust_wallet",
        "settle_invoice",
        "run_reconciliation",
    ),
}


def role_permissions(role: str) -> Any:
    if role == ADMIN:
        return Permission.objects.filter(content_type__app_label__in=operated_apps())
    actions = ROLE_ACTIONS[role]
    return Permission.objects.filter(
        Q(content_type__app_label__in=operated_apps(), codename__startswith="view_")
        | Q(content_type__app_label="ttelgo", codename__in=actions)
    ).exclude(content_type__app_label="ttelgo", codename="view_user")


def roles_sync() -> None:
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(role_permissions(role))


def roles_sync_after_migrate(sender: Any, **kwargs: Any) -> None:
    # post_migrate is sent once per app, after that app's permissions were created; the
    # last app's signal is the moment every permission exists. Apps without models get
    # no signal.
    with_models = [a for a in global_apps.get_app_configs() if a.models_module is not None]
    if sender is with_models[-1]:
        roles_sync()
