"""Auto top-up rules and their firings. A vendor sets a rule per eSIM, or one default for
all its eSIMs; a customer sets one per eSIM, paid off-session from a card saved with
consent. A firing (`fulfilment/auto_topups/triggers.py`) is carried out here, after commit: a
vendor's top-up is an ordinary top-up order on its wallet or credit line; a customer's
is charged off-session, and a bank asking for authentication (SCA) gets the customer an
email with a link to confirm the payment."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from catalogue.selectors import bundle_get_sellable
from fulfilment.auto_topups.models import AutoTopupRule, AutoTopupRun
from fulfilment.auto_topups.state import AUTO_TOPUP_RUN_STATES
from fulfilment.auto_topups.triggers import auto_topup_event
from fulfilment.emails import customer_email
from fulfilment.links import payment_page_url
from fulfilment.lock_objects import auto_topup_run_qs_select_for_update
from fulfilment.models import Esim
from fulfilment.selectors import esim_get_for_buyer
from fulfilment.topups import order_create_topup, topup_compatibility_check
from orders.models import Order
from payments.services import payment_off_session, saved_card_of
from ttelgo.audit import audit_record
from ttelgo.errors import DomainError
from ttelgo.money import Money
from ttelgo.state import transition_rows
from vendors.models import Vendor

R = AutoTopupRun.Status
FIELDS = ("bundle_code", "below_percent", "expiry_days", "monthly_limit", "active")


def _validate(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    percent, days = values.get("below_percent"), values.get("expiry_days")
    if percent is None and days is None:
        errors["below_percent"] = ["Set below_percent, expiry_days or both."]
    if percent is not None and not 1 <= percent <= 99:
        errors["below_percent"] = ["From 1 to 99."]
    if days is not None and not 1 <= days <= 30:
        errors["expiry_days"] = ["From 1 to 30."]
    limit = values.get("monthly_limit", 3)
    if not 1 <= limit <= 31:
        errors["monthly_limit"] = ["From 1 to 31."]
    if errors:
        raise DomainError("validation_error", "The auto top-up rule is not valid.", details=errors)


def auto_topup_rule_create(
    *,
    bundle_code: str,
    vendor: Vendor | None = None,
    customer: Any = None,
    iccid: str = "",
    below_percent: int | None = None,
    expiry_days: int | None = None,
    monthly_limit: int = 3,
    payment_method_id: str = "",
    stripe_customer_id: str = "",
) -> AutoTopupRule:
    """A rule for one eSIM (`iccid`) or, for a vendor, the default for all its eSIMs.
    The bundle must fit the eSIM (asked of the provider, outside any transaction); a
    default rule's bundle is checked against each eSIM when it fires."""
    values = {
        "bundle_code": bundle_code,
        "below_percent": below_percent,
        "expiry_days": expiry_days,
        "monthly_limit": monthly_limit,
    }
    _validate(values)
    esim: Esim | None = None
    if iccid:
        esim = esim_get_for_buyer(iccid=iccid, customer=customer, vendor=vendor)
        if esim.status == Esim.Status.REVOKED:
            raise DomainError("invalid_state", f"eSIM {iccid} was revoked.")
        topup_compatibility_check(
            iccid=iccid, bundle_code=bundle_code, customer=customer, vendor=vendor
        )
    else:
        bundle_get_sellable(code=bundle_code)  # a default rule still names a bundle we sell
    try:
        with transaction.atomic():
            rule = AutoTopupRule.objects.create(
                vendor=vendor,
                customer=None if vendor is not None else customer,
                esim=esim,
                payment_method_id=payment_method_id,
                stripe_customer_id=stripe_customer_id,
                **values,
            )
            audit_record(
                actor=customer if vendor is None else f"vendor:{vendor.pk}",
                action="auto_topup.create",
                target=rule,
                after={**values, "iccid": iccid},
            )
    except IntegrityError:
        what = f"eSIM {iccid}" if iccid else "this vendor's eSIMs (the default rule)"
        raise DomainError(
            "conflict", f"An auto top-up rule for {what} exists; change or delete it."
        ) from None
    return rule


def auto_topup_rule_update(*, rule: AutoTopupRule, actor: Any, **changes: Any) -> AutoTopupRule:
    changes = {k: v for k, v in changes.items() if k in FIELDS}
    merged = {f: changes.get(f, getattr(rule, f)) for f in FIELDS}
    _validate(merged)
    if "bundle_code" in changes and rule.esim_id is not None:
        assert rule.esim is not None
        topup_compatibility_check(
            iccid=rule.esim.iccid,
            bundle_code=merged["bundle_code"],
            customer=rule.customer,
            vendor=rule.vendor,
        )
    elif "bundle_code" in changes:
        bundle_get_sellable(code=merged["bundle_code"])
    try:
        with transaction.atomic():
            before = {f: getattr(rule, f) for f in FIELDS}
            AutoTopupRule.objects.filter(pk=rule.pk).update(**merged)
            audit_record(
                actor=actor, action="auto_topup.update", target=rule, before=before, after=merged
            )
    except IntegrityError:
        raise DomainError("conflict", "Another active rule covers the same eSIMs.") from None
    rule.refresh_from_db()
    return rule


def auto_topup_rule_delete(*, rule: AutoTopupRule, actor: Any) -> None:
    with transaction.atomic():
        audit_record(actor=actor, action="auto_topup.delete", target=rule)
        AutoTopupRule.objects.filter(pk=rule.pk).update(active=False)


# --- firing ------------------------------------------------------------------------------


def auto_topup_execute(*, run_id: int) -> AutoTopupRun:
    """Place the top-up a firing recorded, once (a run that is not pending any more is
    left as it is)."""
    run = AutoTopupRun.objects.select_related("rule", "esim__order").get(pk=run_id)
    if run.status != R.PENDING:
        return run
    if run.rule.vendor_id is not None:
        return _vendor_topup(run)
    return _customer_topup(run)


def _move(run_id: int, *, to: str, **fields: Any) -> int:
    """Move a pending run to `to` (`AUTO_TOPUP_RUN_STATES`) in one conditional update:
    1 for the caller that moved it, 0 when another already had."""
    fields.setdefault("updated_at", timezone.now())
    return transition_rows(
        AutoTopupRun.objects.filter(pk=run_id),
        table=AUTO_TOPUP_RUN_STATES,
        to=to,
        expected=R.PENDING,
        **fields,
    )


def _fail(run: AutoTopupRun, detail: str) -> AutoTopupRun:
    with transaction.atomic():
        changed = _move(run.pk, to=R.FAILED, detail=detail[:500])
        run.refresh_from_db()
        if changed:
            auto_topup_event(run)
            if run.rule.customer_id is not None:
                _customer_notice(run, "auto_topup_failed")
    return run


def _vendor_topup(run: AutoTopupRun) -> AutoTopupRun:
    vendor = run.rule.vendor
    assert vendor is not None
    iccid, bundle_code = run.esim.iccid, run.rule.bundle_code
    try:
        topup_compatibility_check(iccid=iccid, bundle_code=bundle_code, vendor=vendor)
        with transaction.atomic():
            locked = auto_topup_run_qs_select_for_update().get(pk=run.pk)
            if locked.status != R.PENDING:
                return locked
            order = order_create_topup(iccid=iccid, bundle_code=bundle_code, vendor=vendor)
            _move(run.pk, to=R.APPLIED, order=order)  # under the row lock: it moves
            locked.refresh_from_db()
            auto_topup_event(locked)
            return locked
    except DomainError as exc:
        return _fail(run, f"{exc.code}: {exc.message}")


def _customer_topup(run: AutoTopupRun) -> AutoTopupRun:
    """Order the top-up, then charge the saved card off-session (outside the
    transaction). A bank asking for authentication leaves the payment waiting and emails
    the customer a link to confirm it; the top-up applies once it is paid."""
    customer = run.rule.customer
    profile = saved_card_of(customer)
    if profile is None:
        return _fail(run, "no saved card: pay an order with save_card to keep one")
    iccid, bundle_code = run.esim.iccid, run.rule.bundle_code
    try:
        topup_compatibility_check(iccid=iccid, bundle_code=bundle_code, customer=customer)
        with transaction.atomic(durable=True):  # the order commits before the card is charged
            locked = auto_topup_run_qs_select_for_update().get(pk=run.pk)
            if locked.status != R.PENDING or locked.order_id is not None:
                order = locked.order
            else:
                order = order_create_topup(
                    iccid=iccid, bundle_code=bundle_code, customer=customer, pay_off_session=True
                )
                AutoTopupRun.objects.filter(pk=run.pk).update(order=order)
        if order is None:
            return locked
        outcome = payment_off_session(
            order=order, profile=profile, idempotency_key=f"auto-topup:{run.pk}:payment"
        )
    except DomainError as exc:
        return _fail(run, f"{exc.code}: {exc.message}")
    if outcome == "declined":
        return _fail(run, "card_declined: the saved card was declined")
    status = R.APPLIED if outcome == "succeeded" else R.ACTION_REQUIRED
    with transaction.atomic():
        changed = _move(run.pk, to=status)
        run.refresh_from_db()
        if changed:
            data: dict[str, Any] = {
                "iccid": iccid,
                "bundle_name": _bundle_name(order),
                "amount": str(Money(order.total, order.currency)),
            }
            if status == R.ACTION_REQUIRED:
                data["action_url"] = payment_page_url(order)
            customer_email(
                order=order,
                kind="auto_topup_applied" if status == R.APPLIED else "auto_topup_action",
                **data,
            )
    return run


def _bundle_name(order: Order) -> str:
    item = order.items.first()
    return item.bundle_name if item else ""


def _customer_notice(run: AutoTopupRun, kind: str) -> None:
    customer_email(order=run.esim.order, kind=kind, iccid=run.esim.iccid, reason=run.detail)
