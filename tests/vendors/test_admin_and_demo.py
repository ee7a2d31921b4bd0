"""Operator admin actions go through the services; demo seeding is idempotent."""

import io

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory, VendorFactory
from tests.vendors.factories import key_client
from ttelgo.models import AuditLog
from ttelgo.money import Money
from vendors.models import Vendor, VendorAPIKey


@pytest.fixture
def operator_client(db):
    operator = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(operator)
    client.operator = operator  # type: ignore[attr-defined]
    return client


def _action(client, action, vendors, **extra):
    return client.post(
        reverse("admin:vendors_vendor_changelist"),
        {"action": action, "_selected_action": [v.pk for v in vendors], **extra},
        follow=True,
    )


def test_admin_pages_render(operator_client):
    vendor = VendorFactory()
    for url in (
        reverse("admin:vendors_vendor_changelist"),
        reverse("admin:vendors_vendor_change", args=[vendor.pk]),
        reverse("admin:vendors_vendor_history", args=[vendor.pk]),
        reverse("admin:vendors_vendorapikey_add"),
        reverse("admin:webhooks_webhookdelivery_changelist"),
        reverse("admin:webhooks_webhookendpoint_changelist"),
    ):
        assert operator_client.get(url).status_code == 200, url


def test_approve_and_suspend_with_reason_are_audited_to_the_operator(operator_client):
    vendor = VendorFactory(status=Vendor.Status.PENDING)
    response = _action(operator_client, "approve", [vendor], reason="")
    vendor.refresh_from_db()
    assert vendor.status == "pending"  # the console asks for a reason; so does the service
    assert any("reason" in str(m) for m in get_messages(response.wsgi_request))
    _action(operator_client, "approve", [vendor], reason="KYC checked")
    vendor.refresh_from_db()
    assert vendor.status == "active"

    response = _action(operator_client, "suspend", [vendor], reason="")
    vendor.refresh_from_db()
    assert vendor.status == "active"  # no reason, no suspension
    assert any("reason" in str(m) for m in get_messages(response.wsgi_request))

    _action(operator_client, "suspend", [vendor], reason="KYC documents expired")
    vendor.refresh_from_db()
    assert (vendor.status, vendor.status_reason) == ("suspended", "KYC documents expired")
    log = AuditLog.objects.get(action="vendor.suspend")
    assert log.actor == operator_client.operator
    assert vendor.history.first().history_user == operator_client.operator


def test_credit_limit_and_tier_change_through_actions(operator_client):
    vendor = VendorFactory(billing_mode="postpaid")
    _action(operator_client, "change_credit_limit", [vendor], credit_limit="750.50", reason="ok")
    _action(operator_client, "change_tier", [vendor], tier="gold", reason="volume")
    vendor.refresh_from_db()
    assert (vendor.credit_limit, vendor.tier, vendor.discount_bps) == (75_050, "gold", 1000)


def test_money_and_status_cannot_be_edited_in_the_change_form(operator_client):
    vendor = VendorFactory(billing_mode="postpaid")
    url = reverse("admin:vendors_vendor_change", args=[vendor.pk])
    operator_client.post(
        url,
        {
            "name": "Renamed",
            "status": "closed",
            "credit_limit": "999999",
            "discount_bps": "9000",
            "low_balance_threshold": "1000",
            "contact_email": "new@vendor.example",
            "members-TOTAL_FORMS": "0",
            "members-INITIAL_FORMS": "0",
            "brand-TOTAL_FORMS": "0",
            "brand-INITIAL_FORMS": "0",
        },
    )
    vendor.refresh_from_db()
    assert vendor.name == "Renamed"
    assert (vendor.status, vendor.credit_limit, vendor.discount_bps) == ("active", 0, 0)
    assert vendor.low_balance_threshold == 100_000  # entered in major units: 1000.00


def test_issuing_a_key_in_the_admin_shows_it_once_and_it_works(operator_client):
    vendor = VendorFactory()
    response = operator_client.post(
        reverse("admin:vendors_vendorapikey_add"),
        {"vendor": vendor.pk, "name": "integration"},
        follow=True,
    )
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    key = next(t for t in texts if "API key" in t).split("is: ")[1].split(" ")[0]
    assert key_client(key).get("/api/v1/vendor/webhook-endpoints").status_code == 200

    api_key = VendorAPIKey.objects.get(vendor=vendor)
    operator_client.post(
        reverse("admin:vendors_vendorapikey_changelist"),
        {"action": "revoke", "_selected_action": [api_key.pk]},
    )
    assert key_client(key).get("/api/v1/vendor/webhook-endpoints").status_code == 401


def test_operator_replays_a_delivery(operator_client, django_capture_on_commit_callbacks):
    import responses

    from tests.webhooks.factories import PUBLIC_URL, endpoint_for
    from webhooks.models import WebhookDelivery
    from webhooks.services import endpoint_test

    vendor = VendorFactory()
    endpoint, _ = endpoint_for(vendor)
    delivery = endpoint_test(endpoint=endpoint)  # not sent: no on-commit here
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, PUBLIC_URL, status=200)
        with django_capture_on_commit_callbacks(execute=True):
            operator_client.post(
                reverse("admin:webhooks_webhookdelivery_changelist"),
                {"action": "replay", "_selected_action": [delivery.pk]},
            )
        assert len(mock.calls) == 1
    assert WebhookDelivery.objects.get().status == "succeeded"


def test_seed_demo_is_idempotent_and_returns_working_keys(db):
    from billing.demo import seed_demo

    first = seed_demo(io.StringIO())
    second = seed_demo(io.StringIO())
    assert Vendor.objects.filter(live_vendor__isnull=True).count() == 2
    assert Vendor.objects.filter(live_vendor__isnull=False).count() == 1  # a test environment
    for line in first + second:
        key = line.rsplit("Api-Key ", 1)[1]
        assert key_client(key).get("/api/v1/vendor/balance").status_code == 200
    assert [line.rsplit("Api-Key ", 1)[1][:9] for line in first] == ["ttg_live_"] * 2 + [
        "ttg_test_"
    ]
    test_balance = key_client(first[2].rsplit(" ", 1)[1]).get("/api/v1/vendor/balance").json()
    assert test_balance["livemode"] is False and test_balance["available"]["amount"] == "1000.00"
    prepaid = Vendor.objects.get(billing_mode="prepaid", live_vendor__isnull=True)
    balance = key_client(second[0].rsplit(" ", 1)[1]).get("/api/v1/vendor/balance").json()
    assert balance["balance"] == {"amount": "500.00", "currency": "USD"}  # funded once
    assert prepaid.status == "active"


def test_seeding_again_changes_nothing_an_operator_changed_and_prints_current_figures(db):
    """`make run` twice on one database: the same keys (nothing new issued), a credit
    limit the operator raised stays raised, the banner shows today's balances."""
    from billing.demo import seed_demo
    from billing.services import vendor_wallet_topup_credit
    from vendors.models import VendorAPIKey
    from vendors.services import vendor_credit_limit_change

    first = seed_demo(io.StringIO())
    keys = VendorAPIKey.objects.count()
    postpaid = Vendor.objects.get(billing_mode="postpaid")
    vendor_credit_limit_change(
        vendor=postpaid, limit=Money(500_000, "USD"), actor=None, reason="raised by ops"
    )
    prepaid = Vendor.objects.get(billing_mode="prepaid", live_vendor__isnull=True)
    vendor_wallet_topup_credit(  # the wallet moved since the first run
        vendor=prepaid, amount=Money(10_000, "USD"), reference="test:more-funds"
    )
    second = seed_demo(io.StringIO())
    assert "wallet 600.00 USD available" in second[0]
    assert VendorAPIKey.objects.count() == keys  # no new keys
    assert [line.rsplit("Api-Key ", 1)[1] for line in second] == [
        line.rsplit("Api-Key ", 1)[1] for line in first
    ]
    postpaid.refresh_from_db()
    assert postpaid.credit_limit == 500_000
    assert "of 5,000.00 USD credit left" in second[1] or "of 5000.00 USD credit left" in second[1]


def test_a_demo_key_the_operator_revoked_stays_revoked(db):
    from billing.demo import seed_demo
    from vendors.models import VendorAPIKey
    from vendors.services import api_key_revoke

    first = seed_demo(io.StringIO())
    for api_key in VendorAPIKey.objects.all():
        api_key_revoke(api_key=api_key, actor=None)
    second = seed_demo(io.StringIO())
    assert all("revoked" in line for line in second)
    key = first[0].rsplit("Api-Key ", 1)[1]
    assert key_client(key).get("/api/v1/vendor/balance").status_code == 401


def test_an_operator_sets_a_vendors_usage_alert_levels(operator_client):
    vendor = VendorFactory()
    url = reverse("admin:vendors_vendor_change", args=[vendor.pk])
    form = {
        "name": vendor.name,
        "contact_email": "ops@vendor.example",
        "low_balance_threshold": "0",
        "members-TOTAL_FORMS": "0",
        "members-INITIAL_FORMS": "0",
        "brand-TOTAL_FORMS": "0",
        "brand-INITIAL_FORMS": "0",
    }
    refused = operator_client.post(url, {**form, "usage_alert_levels": "[0, 150]"})
    assert refused.status_code == 200 and "whole percentages" in refused.content.decode()
    operator_client.post(url, {**form, "usage_alert_levels": "[90, 75, 75]"})
    vendor.refresh_from_db()
    assert vendor.usage_alert_levels == [75, 90]


def test_an_operator_sets_a_vendors_brand_with_the_same_checks_as_the_api(operator_client):
    from vendors.models import VendorBrand

    vendor = VendorFactory()
    url = reverse("admin:vendors_vendor_change", args=[vendor.pk])
    form = {
        "name": vendor.name,
        "contact_email": "ops@vendor.example",
        "low_balance_threshold": "0",
        "usage_alert_levels": "[50, 80]",
        "members-TOTAL_FORMS": "0",
        "members-INITIAL_FORMS": "0",
        "brand-TOTAL_FORMS": "1",
        "brand-INITIAL_FORMS": "0",
        "brand-0-display_name": "Globetrotter",
        "brand-0-primary_color": "#0f766e",
        "brand-0-logo_url": "http://plain.example/logo.png",
    }
    refused = operator_client.post(url, form)
    assert refused.status_code == 200 and "An https:// address." in refused.content.decode()
    assert not VendorBrand.objects.exists()
    saved = operator_client.post(url, {**form, "brand-0-logo_url": "https://cdn.example/l.png"})
    assert saved.status_code == 302
    assert VendorBrand.objects.get(vendor=vendor).logo_url == "https://cdn.example/l.png"
