"""Vendor lifecycle, tiers, credit and keys through the services, with audit."""

import pytest
from django.core import mail

from tests.factories import UserFactory, VendorFactory
from ttelgo.errors import DomainError
from ttelgo.models import AuditLog
from ttelgo.money import Money
from vendors.models import Vendor, VendorAPIKey
from vendors.services import (
    api_key_issue,
    api_key_revoke,
    vendor_approve,
    vendor_close,
    vendor_create,
    vendor_credit_limit_change,
    vendor_reactivate,
    vendor_signup,
    vendor_suspend,
    vendor_tier_change,
)


@pytest.fixture
def operator(db):
    return UserFactory(is_staff=True)


def test_lifecycle_records_who_why_and_before_after_and_emails_the_vendor(
    operator, django_capture_on_commit_callbacks
):
    vendor = VendorFactory(status=Vendor.Status.PENDING)
    with django_capture_on_commit_callbacks(execute=True):
        vendor_approve(vendor=vendor, actor=operator)
    assert vendor.status == "active" and vendor.approved_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        vendor_suspend(vendor=vendor, actor=operator, reason="chargebacks under review")
    assert vendor.status == "suspended" and vendor.status_reason == "chargebacks under review"
    vendor_reactivate(vendor=vendor, actor=operator)
    assert vendor.status == "active" and vendor.status_reason == ""

    subjects = [m.subject for m in mail.outbox]
    assert any("active" in s for s in subjects) and any("suspended" in s for s in subjects)
    assert all(m.to == [vendor.contact_email] for m in mail.outbox)
    assert "chargebacks under review" in mail.outbox[1].body

    history = list(vendor.history.order_by("history_id"))
    assert [h.status for h in history] == ["pending", "active", "suspended", "active"]
    assert {h.history_user for h in history[1:]} == {operator}
    assert history[2].history_change_reason.startswith("suspend: chargebacks")

    log = AuditLog.objects.filter(action="vendor.suspend").get()
    assert log.actor == operator and log.reason == "chargebacks under review"
    assert log.before["status"] == "active" and log.after["status"] == "suspended"


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("active", vendor_approve),
        ("pending", vendor_reactivate),
        ("closed", vendor_approve),
        ("suspended", vendor_suspend),
    ],
)
def test_transitions_outside_the_table_are_invalid_state(db, operator, status, action):
    vendor = VendorFactory(status=status)
    with pytest.raises(DomainError) as exc:
        action(vendor=vendor, actor=operator, reason="x")
    assert exc.value.code == "invalid_state"
    vendor.refresh_from_db()
    assert vendor.status == status


def test_suspension_needs_a_reason(operator):
    vendor = VendorFactory()
    with pytest.raises(DomainError) as exc:
        vendor_suspend(vendor=vendor, actor=operator, reason="  ")
    assert exc.value.code == "validation_error"


def test_closing_revokes_every_key(operator):
    vendor = VendorFactory()
    keys = [api_key_issue(vendor=vendor, name=f"k{i}")[0] for i in range(2)]
    vendor_close(vendor=vendor, actor=operator, reason="contract ended")
    assert vendor.status == "closed"
    assert all(VendorAPIKey.objects.get(pk=k.pk).revoked for k in keys)
    with pytest.raises(DomainError):
        api_key_issue(vendor=vendor, name="again")


def test_tier_change_sets_the_tier_discount_or_an_override(operator):
    vendor = VendorFactory()
    vendor_tier_change(vendor=vendor, tier="gold", actor=operator, reason="volume")
    assert (vendor.tier, vendor.discount_bps) == ("gold", 1000)
    vendor_tier_change(vendor=vendor, tier="silver", actor=operator, discount_bps=700)
    assert (vendor.tier, vendor.discount_bps) == ("silver", 700)
    with pytest.raises(DomainError):
        vendor_tier_change(vendor=vendor, tier="diamond", actor=operator)
    with pytest.raises(DomainError):
        vendor_tier_change(vendor=vendor, tier="gold", actor=operator, discount_bps=10001)
    log = AuditLog.objects.filter(action="vendor.tier_change").first()
    assert log.before == {"tier": "gold", "discount_bps": 1000}
    assert log.after == {"tier": "silver", "discount_bps": 700}


def test_credit_limit_change_updates_the_vendor_and_the_ledger_bound(operator):
    from billing.selectors import vendor_balance

    vendor = VendorFactory(billing_mode="postpaid")
    vendor_credit_limit_change(
        vendor=vendor, limit=Money(250_000, "USD"), actor=operator, reason="good payer"
    )
    assert vendor.credit_limit == 250_000
    assert vendor_balance(vendor=vendor).credit_limit == Money(250_000, "USD")
    assert vendor_balance(vendor=vendor).available == Money(250_000, "USD")
    log = AuditLog.objects.get(action="vendor.credit_limit_change")
    assert log.before == {"credit_limit": {"amount": "0.00", "currency": "USD"}}
    assert log.after == {"credit_limit": {"amount": "2500.00", "currency": "USD"}}
    assert vendor.history.first().history_user == operator


@pytest.mark.parametrize(
    ("billing", "limit"),
    [
        ("prepaid", Money(100, "USD")),
        ("postpaid", Money(100, "EUR")),
        ("postpaid", Money(-1, "USD")),
    ],
)
def test_bad_credit_limits_are_refused_and_change_nothing(operator, billing, limit):
    vendor = VendorFactory(billing_mode=billing)
    with pytest.raises(DomainError) as exc:
        vendor_credit_limit_change(vendor=vendor, limit=limit, actor=operator, reason="x")
    assert exc.value.code == "validation_error"
    vendor.refresh_from_db()
    assert vendor.credit_limit == 0


def test_vendor_create_with_limit_and_approval(operator):
    vendor = vendor_create(
        name="Roam Co",
        billing_mode="postpaid",
        credit_limit=Money(100_000, "USD"),
        approve=True,
        actor=operator,
    )
    assert (vendor.status, vendor.credit_limit) == ("active", 100_000)


def test_signup_creates_a_pending_vendor_and_tells_operations(
    db, django_capture_on_commit_callbacks, settings
):
    with django_capture_on_commit_callbacks(execute=True):
        vendor = vendor_signup(
            company_name="Globetrotter Ltd",
            contact_email="Ops@Globe.example",
            country="gb",
            billing_mode="prepaid",
        )
    assert (vendor.status, vendor.country, vendor.contact_email) == (
        "pending",
        "GB",
        "ops@globe.example",
    )
    assert mail.outbox[0].to == [settings.OPERATIONS_EMAIL]


def test_revoke_is_idempotent_and_audited(operator):
    vendor = VendorFactory()
    api_key, _ = api_key_issue(vendor=vendor, name="ci")
    api_key_revoke(api_key=api_key, actor=operator)
    api_key_revoke(api_key=api_key, actor=operator)
    assert api_key.revoked and api_key.revoked_at is not None
    assert AuditLog.objects.filter(action="vendor.api_key_revoke").count() == 1


def test_low_balance_alert_fires_once_per_crossing(db, django_capture_on_commit_callbacks):
    import responses

    from billing import alerts
    from billing import services as ledger
    from billing.selectors import vendor_balance
    from tests.webhooks.factories import PUBLIC_URL, endpoint_for, events_publish
    from webhooks.models import WebhookEvent

    def vendor_low_balance_check(*, vendor):
        available = vendor_balance(vendor=vendor).available
        return alerts.vendor_low_balance_check(vendor=vendor, available=available)

    vendor = VendorFactory(low_balance_threshold=2_000)
    endpoint_for(vendor, events=["wallet.low_balance"])
    ledger.vendor_wallet_topup_credit(vendor=vendor, amount=Money(5_000, "USD"), reference="t1")
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, PUBLIC_URL, status=200)
        assert vendor_low_balance_check(vendor=vendor) is False

        ledger.vendor_adjustment(vendor=vendor, amount=Money(-3_500, "USD"), reason="x", actor=None)
        with django_capture_on_commit_callbacks(execute=True):
            assert vendor_low_balance_check(vendor=vendor) is True
            assert vendor_low_balance_check(vendor=vendor) is False  # once per crossing
        assert len(mock.calls) == 1

    event = WebhookEvent.objects.get(type="wallet.low_balance")
    assert event.data == {
        "available": {"amount": "15.00", "currency": "USD"},
        "threshold": {"amount": "20.00", "currency": "USD"},
    }
    assert "low" in mail.outbox[-1].subject

    # Topped up above the threshold re-arms it; the next drop fires again.
    ledger.vendor_wallet_topup_credit(vendor=vendor, amount=Money(1_000, "USD"), reference="t2")
    assert vendor_low_balance_check(vendor=vendor) is False
    ledger.vendor_adjustment(vendor=vendor, amount=Money(-600, "USD"), reason="y", actor=None)
    assert vendor_low_balance_check(vendor=vendor) is True
    events_publish()
    assert WebhookEvent.objects.filter(type="wallet.low_balance").count() == 2
