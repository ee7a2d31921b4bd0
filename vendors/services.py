"""Vendor lifecycle, credit and API keys. Views, admin, commands and tasks all call these."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.db.models.signals import post_save
from django.template.loader import render_to_string
from django.utils import timezone

from ttelgo.audit import audit_record, snapshot
from ttelgo.errors import DomainError
from ttelgo.models import User
from ttelgo.money import SUPPORTED_CURRENCIES, Money
from ttelgo.ops_email import ops_email_send
from ttelgo.outbox import task_enqueue
from ttelgo.services import country_code_check, vat_number_assess_strict
from ttelgo.state import StateTable, transition
from ttelgo.tax import vat_number_verify
from ttelgo.validators import one_line
from vendors import signals
from vendors.lock_objects import vendor_api_key_qs_select_for_update, vendor_qs_select_for_update
from vendors.models import Vendor, VendorAPIKey, key_marker

# Default discount off retail per pricing tier (basis points); operators may override it.
TIER_DISCOUNT_BPS: dict[str, int] = {
    Vendor.Tier.STANDARD: 0,
    Vendor.Tier.SILVER: 500,
    Vendor.Tier.GOLD: 1000,
    Vendor.Tier.PLATINUM: 1500,
}

V = Vendor.Status
# The vendor status table (ttelgo.state): where a vendor may go, and where each operator
# action starts from. The console shows an action only where `VENDOR_STATES.may` says so.
VENDOR_STATES = StateTable.of(
    "Vendor",
    {
        V.PENDING: {V.ACTIVE, V.CLOSED},
        V.ACTIVE: {V.SUSPENDED, V.CLOSED},
        V.SUSPENDED: {V.ACTIVE, V.CLOSED},
        V.CLOSED: set(),
    },
    actions={
        "approve": {V.PENDING},
        "suspend": {V.ACTIVE},
        "reactivate": {V.SUSPENDED},
        "close": {V.PENDING, V.ACTIVE, V.SUSPENDED},
    },
)
ACTION_TARGET = {
    "approve": V.ACTIVE,
    "suspend": V.SUSPENDED,
    "reactivate": V.ACTIVE,
    "close": V.CLOSED,
}


def _validation(field: str, message: str) -> DomainError:
    return DomainError("validation_error", message, details={field: [message]})


def _audit(obj: Any, *, actor: User | None, reason: str) -> None:
    """Who and why for django-simple-history (the request middleware covers the admin)."""
    if actor is not None and getattr(actor, "pk", None):
        obj._history_user = actor
    obj._change_reason = reason[:100] if reason else None


def vendor_notify(*, vendor: Vendor, template: str, **context: Any) -> None:
    """Email the vendor `templates/emails/vendor/<template>.txt` (its first line is the
    subject) after the surrounding transaction commits."""
    if not vendor.notify_email:
        return
    text = render_to_string(
        f"emails/vendor/{template}.txt",
        {
            "vendor": vendor,
            "docs_url": f"{settings.PUBLIC_BASE_URL.rstrip('/')}/api/docs/",
            "portal_url": f"{settings.PUBLIC_BASE_URL.rstrip('/')}/portal/",
            **context,
        },
    )
    subject, _, body = text.partition("\n")
    task_enqueue("vendors.tasks.vendor_email_send", vendor.pk, subject.strip(), body.strip() + "\n")


def _lock(vendor: Vendor) -> Vendor:
    return vendor_qs_select_for_update().get(pk=vendor.pk)


def vendor_signup(
    *, company_name: str, contact_email: str, country: str, billing_mode: str
) -> Vendor:
    """Self-service signup: a pending vendor that an operator approves in the admin."""
    if billing_mode not in Vendor.BillingMode.values:
        raise _validation("billing_mode", "Choose prepaid or postpaid.")
    email = contact_email.strip().lower()
    if Vendor.objects.filter(contact_email__iexact=email, status=Vendor.Status.PENDING).exists():
        raise DomainError(
            "conflict",
            "A signup with this email is already waiting for approval; we will write to "
            "you once it is reviewed.",
            details={"contact_email": ["A pending signup already uses this email."]},
        )
    with transaction.atomic():
        vendor = Vendor(
            name=company_name.strip(),
            contact_email=email,
            country=country.upper(),
            billing_mode=billing_mode,
            currency=settings.DEFAULT_CURRENCY,
            status=Vendor.Status.PENDING,
        )
        _audit(vendor, actor=None, reason="self-service signup")
        vendor.save()
        ops_email_send(
            f"New vendor signup: {one_line(vendor.name)}",
            f"Vendor #{vendor.pk} {vendor.name} ({vendor.contact_email}) "
            "signed up and waits for approval in the admin.",
        )
    return vendor


def vendor_create(
    *,
    name: str,
    billing_mode: str,
    currency: str | None = None,
    credit_limit: Money | None = None,
    contact_email: str = "",
    country: str = "",
    approve: bool = False,
    actor: User | None = None,
) -> Vendor:
    """Operator-side creation (admin, `vendor_create` command)."""
    if billing_mode not in Vendor.BillingMode.values:
        raise _validation("billing_mode", "Choose prepaid or postpaid.")
    currency = (currency or settings.DEFAULT_CURRENCY).upper()
    if currency not in SUPPORTED_CURRENCIES:
        raise _validation("currency", f"Unsupported currency {currency}.")
    with transaction.atomic():
        vendor = Vendor(
            name=name.strip(),
            billing_mode=billing_mode,
            currency=currency,
            contact_email=contact_email.lower(),
            country=country.upper(),
        )
        _audit(vendor, actor=actor, reason="created by an operator")
        vendor.save()
        if credit_limit is not None and credit_limit.amount:
            vendor_credit_limit_change(
                vendor=vendor, limit=credit_limit, actor=actor, reason="initial credit limit"
            )
        if approve:
            vendor_approve(vendor=vendor, actor=actor, reason="approved at creation")
    vendor.refresh_from_db()
    return vendor


def _transition(vendor: Vendor, *, action: str, actor: User | None, reason: str) -> Vendor:
    """One status action: a compare-and-set move (`ttelgo.state.transition`) with its
    audit row and history entry in the same transaction."""
    to = ACTION_TARGET[action]
    fields: dict[str, Any] = {}
    if action == "approve":
        fields["approved_at"] = timezone.now()
    if action in {"suspend", "close"}:
        fields["status_reason"] = reason
    elif action in {"approve", "reactivate"}:
        fields["status_reason"] = ""
    with transaction.atomic():
        before = snapshot(Vendor.objects.get(pk=vendor.pk), ["status", "status_reason"])
        moved, _ = transition(
            Vendor, pk=vendor.pk, table=VENDOR_STATES, to=to, action=action, **fields
        )
        # The UPDATE sends no signal: tell django-simple-history, as a save() would.
        _audit(moved, actor=actor, reason=f"{action}: {reason}" if reason else action)
        post_save.send(Vendor, instance=moved, created=False, raw=False, using="default")
        audit_record(
            actor=actor,
            action=f"vendor.{action}",
            target=moved,
            before=before,
            after=snapshot(moved, ["status", "status_reason"]),
            reason=reason,
        )
    vendor.refresh_from_db()
    return vendor


def vendor_approve(*, vendor: Vendor, actor: User | None, reason: str = "") -> Vendor:
    with transaction.atomic():
        _transition(vendor, action="approve", actor=actor, reason=reason)
        vendor_notify(vendor=vendor, template="approved")
    return vendor


def vendor_suspend(*, vendor: Vendor, actor: User | None, reason: str) -> Vendor:
    if not reason.strip():
        raise _validation("reason", "A reason is required to suspend a vendor.")
    with transaction.atomic():
        _transition(vendor, action="suspend", actor=actor, reason=reason)
        vendor_notify(vendor=vendor, template="suspended", reason=reason)
    return vendor


def vendor_reactivate(*, vendor: Vendor, actor: User | None, reason: str = "") -> Vendor:
    with transaction.atomic():
        _transition(vendor, action="reactivate", actor=actor, reason=reason)
        vendor_notify(vendor=vendor, template="reactivated")
    return vendor


def vendor_close(*, vendor: Vendor, actor: User | None, reason: str) -> Vendor:
    """Close for good: every API key is revoked in the same transaction."""
    if not reason.strip():
        raise _validation("reason", "A reason is required to close a vendor.")
    with transaction.atomic():
        _transition(vendor, action="close", actor=actor, reason=reason)
        # Its test environment closes with it (test keys included).
        test = Vendor.objects.filter(live_vendor=vendor).exclude(status=Vendor.Status.CLOSED)
        for twin in test:
            _transition(twin, action="close", actor=actor, reason=reason)
        for api_key in VendorAPIKey.objects.filter(
            vendor__in=[vendor, *test], revoked=False
        ).order_by("pk"):
            api_key_revoke(api_key=api_key, actor=actor)
    return vendor


# What a test environment takes from its live vendor, so test prices and alerts match.
_FOLLOWED_TERMS = ("discount_bps", "tier", "usage_alert_levels", "contact_email", "markup_bps")


def _terms_follow(twin: Vendor, vendor: Vendor) -> Vendor:
    changed = {
        f: getattr(vendor, f) for f in _FOLLOWED_TERMS if getattr(twin, f) != getattr(vendor, f)
    }
    if changed:
        Vendor.objects.filter(pk=twin.pk).update(**changed)
        for field, value in changed.items():
            setattr(twin, field, value)
    return twin


def vendor_test_environment(*, vendor: Vendor) -> tuple[Vendor, bool]:
    """The vendor's test environment, opened on first use (test mode works from the first
    minute, approved or not): a vendor of its own, always active and prepaid, in the live
    vendor's currency and alert levels. Returns (environment, created). A closed vendor
    has none to open."""
    if not vendor.livemode:
        return vendor, False
    existing = Vendor.objects.filter(live_vendor=vendor).first()
    if existing is not None:
        return _terms_follow(existing, vendor), False
    if vendor.status == Vendor.Status.CLOSED:
        raise DomainError("invalid_state", "A closed vendor has no test environment.")
    # A sub-vendor's test environment sits below its parent's (opened first, outside this
    # vendor's lock), so test mode has the same tree as live mode and no way across.
    parent_env = vendor_test_environment(vendor=vendor.parent)[0] if vendor.parent else None
    with transaction.atomic():
        _lock(vendor)  # one environment even when two first visits race
        existing = Vendor.objects.filter(live_vendor=vendor).first()
        if existing is not None:
            return existing, False
        twin = Vendor.objects.create(
            live_vendor=vendor,
            name=f"{vendor.name} (test)",
            status=Vendor.Status.ACTIVE,
            billing_mode=Vendor.BillingMode.PREPAID,
            currency=vendor.currency,
            country=vendor.country,
            contact_email=vendor.contact_email,
            technical_email=vendor.technical_email,
            usage_alert_levels=vendor.usage_alert_levels,
            discount_bps=vendor.discount_bps,
            tier=vendor.tier,
            approved_at=timezone.now(),
            parent=parent_env,
            markup_bps=vendor.markup_bps,
        )
    return twin, True


def _parent_room_check(vendor: Vendor, parent_id: int, limit: Money) -> None:
    """A sub-vendor's credit comes out of its parent's: with its siblings' limits, at
    most the parent's credit limit (else `credit_limit_exceeded`, 402), checked under the
    parent's row lock, taken before the sub-vendor's."""
    parent = vendor_qs_select_for_update().get(pk=parent_id)
    siblings = (
        Vendor.objects.filter(parent=parent, billing_mode=Vendor.BillingMode.POSTPAID)
        .exclude(pk=vendor.pk)
        .aggregate(total=Sum("credit_limit"))["total"]
        or 0
    )
    room = parent.credit_limit - siblings
    if limit.amount > room:
        raise DomainError(
            "credit_limit_exceeded",
            "The credit granted to the parent's sub-vendors would exceed the parent's own "
            "credit limit.",
            details={
                "available": Money(max(room, 0), parent.currency).to_api(),
                "required": limit.to_api(),
            },
        )


def vendor_credit_limit_change(
    *, vendor: Vendor, limit: Money, actor: User | None, reason: str
) -> Vendor:
    """Set a postpaid vendor's credit line; the ledger copies it onto the receivable account
    (where the database enforces it) in the same transaction (`signals.
    credit_limit_changed`). A sub-vendor's stays within its parent's room
    (`credit_limit_exceeded`); a vendor's never drops below what it has granted its
    postpaid sub-vendors (their credit limits together): `validation_error` on
    `credit_limit`, with `granted`; lower theirs first. Checked under the row locks,
    parent before child, as a grant (`billing.subvendors.sub_vendor_credit_limit_set`)
    takes them."""
    if vendor.billing_mode != Vendor.BillingMode.POSTPAID:
        raise _validation("credit_limit", "Credit limits apply to postpaid vendors only.")
    if limit.currency != vendor.currency:
        raise _validation("credit_limit", f"The limit must be in {vendor.currency}.")
    if limit.amount < 0:
        raise _validation("credit_limit", "The limit cannot be negative.")
    with transaction.atomic():
        if vendor.parent_id is not None:
            _parent_room_check(
                vendor, vendor.parent_id, limit
            )  # locks the parent first, as a grant does
        locked = _lock(vendor)
        granted = (
            Vendor.objects.filter(
                parent=locked, billing_mode=Vendor.BillingMode.POSTPAID
            ).aggregate(total=Sum("credit_limit"))["total"]
            or 0
        )
        if limit.amount < granted:
            message = (
                f"This vendor has granted {Money(granted, locked.currency)} of credit to its "
                "postpaid sub-vendors: lower their credit limits first, or set at least that."
            )
            raise DomainError(
                "validation_error",
                message,
                details={
                    "credit_limit": [message],
                    "granted": Money(granted, locked.currency).to_api(),
                },
            )
        before = Money(locked.credit_limit, locked.currency)
        locked.credit_limit = limit.amount
        _audit(locked, actor=actor, reason=f"credit limit {before} -> {limit}: {reason}")
        locked.save()
        signals.credit_limit_changed.send(Vendor, vendor=locked, limit=limit, actor=actor)
        audit_record(
            actor=actor,
            action="vendor.credit_limit_change",
            target=locked,
            before={"credit_limit": before.to_api()},
            after={"credit_limit": limit.to_api()},
            reason=reason,
        )
    vendor.refresh_from_db()
    return vendor


def vendor_tier_change(
    *,
    vendor: Vendor,
    tier: str,
    actor: User | None,
    reason: str = "",
    discount_bps: int | None = None,
) -> Vendor:
    """Move a vendor to a pricing tier; its discount follows the tier unless given."""
    if tier not in Vendor.Tier.values:
        raise _validation("tier", f"Unknown tier {tier!r}.")
    bps = TIER_DISCOUNT_BPS[tier] if discount_bps is None else discount_bps
    if not 0 <= bps <= 10000:
        raise _validation("discount_bps", "The discount must be between 0 and 10000 bps.")
    with transaction.atomic():
        locked = _lock(vendor)
        before = f"{locked.tier}/{locked.discount_bps}bps"
        before_fields = snapshot(locked, ["tier", "discount_bps"])
        locked.tier = tier
        locked.discount_bps = bps
        _audit(locked, actor=actor, reason=f"tier {before} -> {tier}/{bps}bps: {reason}")
        locked.save()
        audit_record(
            actor=actor,
            action="vendor.tier_change",
            target=locked,
            before=before_fields,
            after=snapshot(locked, ["tier", "discount_bps"]),
            reason=reason,
        )
    vendor.refresh_from_db()
    return vendor


def api_key_issue(
    *, vendor: Vendor, name: str, expires_at: datetime | None = None, actor: User | None = None
) -> tuple[VendorAPIKey, str]:
    """Create a key; the full key is returned once and only its hash is stored."""
    if vendor.status == Vendor.Status.CLOSED:
        raise DomainError("invalid_state", "A closed vendor cannot get API keys.")
    if expires_at is not None and expires_at <= timezone.now():
        raise _validation("expires_at", "The expiry must be in the future.")
    with transaction.atomic():
        api_key, key = VendorAPIKey.objects.create_key(
            vendor=vendor, name=name[:50] or "API key", expiry_date=expires_at
        )
        key = key_marker(vendor.livemode) + key
        audit_record(
            actor=actor,
            action="vendor.api_key_issue",
            target=vendor,
            after={"prefix": api_key.prefix, "name": api_key.name, "expires_at": expires_at},
        )
    return cast(VendorAPIKey, api_key), key


def api_key_revoke(*, api_key: VendorAPIKey, actor: User | None) -> None:
    """Revoke at once: the very next request with this key is a 401."""
    with transaction.atomic():
        locked = vendor_api_key_qs_select_for_update().get(pk=api_key.pk)
        if locked.revoked:
            return
        locked.revoked = True
        locked.revoked_at = timezone.now()
        _audit(locked, actor=actor, reason="revoked")
        locked.save()
        audit_record(
            actor=actor,
            action="vendor.api_key_revoke",
            target=locked.vendor,
            before={"prefix": locked.prefix, "revoked": False},
            after={"prefix": locked.prefix, "revoked": True},
        )
    api_key.refresh_from_db()


def vendor_tax_details_set(
    *, vendor: Vendor, country: str, vat_number: str, actor: Any = None
) -> Vendor:
    """A vendor records its country and VAT number (the portal's tax details form): the
    number is validated now, before anything is written (VIES: an HTTP call, never inside
    a transaction); one the service says is not a business of that country, or of the
    wrong shape, is refused under its field; one it cannot check now is recorded as not
    validated. Its later sales are taxed by them (ttelgo/tax.py)."""
    country = country_code_check(country)
    checked = vat_number_assess_strict(country=country, vat_number=vat_number)
    fields = ["country", "vat_number", "vat_number_valid"]
    with transaction.atomic():
        before = snapshot(vendor, fields)
        Vendor.objects.filter(pk=vendor.pk).update(
            country=country, vat_number=checked.recorded, vat_number_valid=checked.valid
        )
        vendor.country, vendor.vat_number = country, checked.recorded
        vendor.vat_number_valid = checked.valid
        audit_record(
            actor=actor,
            action="vendor.tax_details",
            target=vendor,
            before=before,
            after=snapshot(vendor, fields),
        )
    return vendor


def vendor_vat_number_set(*, vendor: Vendor, vat_number: str, actor: Any = None) -> Vendor:
    """Record a vendor's VAT number, validated now (VIES: an HTTP call, made before the
    row is written, never inside a transaction). Its sales are reverse-charged from then
    on only if it validated and the vendor is in another EU country (ttelgo/tax.py)."""
    number, valid = vat_number_verify(country=vendor.country, vat_number=vat_number)
    with transaction.atomic():
        before = snapshot(vendor, ["vat_number", "vat_number_valid"])
        Vendor.objects.filter(pk=vendor.pk).update(vat_number=number, vat_number_valid=valid)
        vendor.vat_number, vendor.vat_number_valid = number, valid
        if actor is not None:
            audit_record(
                actor=actor,
                action="vendor.vat_number",
                target=vendor,
                before=before,
                after={"vat_number": number, "vat_number_valid": valid},
            )
    return vendor
