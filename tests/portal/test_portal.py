"""The vendor portal: a company signs up (vendor pending, the person its owner), verifies
its email, protects the account with TOTP two-factor, and once approved creates and
revokes live API keys and sets its brand; each role may do only what it may (checked in
the services); another vendor's staff reach nothing; removed members and closed vendors
lose access on the next request."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import URLPattern, reverse
from django.utils import timezone

from fulfilment.auto_topups.models import AutoTopupRule
from portal import urls as portal_urls
from portal.models import BulkOrder
from tests.console.factories import operator
from tests.factories import UserFactory, VendorFactory
from ttelgo.models import AuditLog
from ttelgo.money import Money
from vendors.members import member_api_key_issue
from vendors.models import Vendor, VendorAPIKey, VendorBrand, VendorUser
from vendors.operator import operator_vendor_approve

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-portal-passphrase-7"


def _signup(client: Client, email: str = "owner@globetrotter.example") -> None:
    response = client.post(
        reverse("account_signup"),
        {
            "email": email,
            "password1": PASSWORD,
            "password2": PASSWORD,
            "company_name": "Globetrotter Ltd",
            "country": "gb",
            "billing_mode": "prepaid",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]


def _confirm_link(email):
    message = next(m for m in reversed(mail.outbox) if email in m.to)
    return re.search(r"https?://[^\s]+/portal/accounts/confirm-email/[^\s]+/", message.body)[0]


def _member(role, vendor=None):
    vendor = vendor or VendorFactory(status="active")
    user = UserFactory()
    member = VendorUser.objects.create(vendor=vendor, user=user, role=role)
    client = Client()
    client.force_login(user)
    return client, member


def test_a_company_signs_up_verifies_its_email_and_waits_for_approval(
    django_capture_on_commit_callbacks,
):
    client = Client()
    assert client.get(reverse("account_signup")).status_code == 200
    _signup(client)
    member = VendorUser.objects.get(user__email="owner@globetrotter.example")
    assert member.role == "owner" and member.vendor.status == "pending"
    assert member.vendor.name == "Globetrotter Ltd" and member.vendor.country == "GB"
    # Not in before the email is verified.
    assert client.get(reverse("portal:overview")).status_code == 302
    link = _confirm_link("owner@globetrotter.example")
    confirm = client.post(link.split("://", 1)[1].split("/", 1)[1].join(["/", ""]))
    assert confirm.status_code == 302
    overview = client.get(reverse("portal:overview"))
    html = overview.content.decode()
    assert overview.status_code == 200 and 'id="pending"' in html
    keys = client.post(reverse("portal:api-keys"), {"name": "site", "mode": "live"})
    assert keys.status_code == 400 and "once the account is approved" in keys.content.decode()
    # Test mode works from the first minute: a test key, on the test environment.
    with django_capture_on_commit_callbacks(execute=True):
        test_page = client.post(reverse("portal:api-keys"), {"name": "trial", "mode": "test"})
    test_raw = re.search(r'id="new-key-value">([^<]+)<', test_page.content.decode())[1]
    assert test_raw.startswith("ttg_test_")
    test_balance = Client(HTTP_AUTHORIZATION=f"Api-Key {test_raw}").get("/api/v1/vendor/balance")
    assert test_balance.status_code == 200
    assert test_balance.json()["livemode"] is False
    assert test_balance.json()["available"] == {"amount": "1000.00", "currency": "USD"}

    with django_capture_on_commit_callbacks(execute=True):
        operator_vendor_approve(
            vendor_id=member.vendor_id, actor=operator("admin"), reason="checked"
        )
    approved = next(m for m in mail.outbox if "account is active" in m.subject)
    assert "/portal/keys/" in approved.body and "separate message" not in approved.body
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(reverse("portal:api-keys"), {"name": "booking site", "mode": "live"})
    raw = re.search(r'id="new-key-value">([^<]+)<', created.content.decode())[1]
    assert raw.startswith("ttg_live_")
    api = Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert api.get("/api/v1/vendor/balance").status_code == 200
    listing = client.get(reverse("portal:api-keys")).content.decode()
    assert raw not in listing  # shown once
    key = VendorAPIKey.objects.get(vendor=member.vendor)
    assert key.prefix in listing and "booking site" in listing and "trial" in listing
    assert any("api key was created" in m.subject.lower() for m in mail.outbox)
    assert client.post(reverse("portal:api-key-revoke", args=[key.pk])).status_code == 302
    assert api.get("/api/v1/vendor/balance").status_code == 401
    assert AuditLog.objects.filter(action="vendor.api_key_revoke").exists()


def test_two_factor_protects_the_login():
    user = UserFactory(email="dev@shop.example")
    user.set_password(PASSWORD)
    user.save()
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    VendorUser.objects.create(vendor=VendorFactory(status="active"), user=user, role="owner")
    client = Client()
    login = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert login.status_code == 302
    # Adding a second factor asks for the password again (allauth's reauthentication).
    asked = client.get(reverse("mfa_activate_totp"))
    assert asked.status_code == 302 and reverse("account_reauthenticate") in asked["Location"]
    again_password = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert again_password.status_code == 302
    activate = client.get(reverse("mfa_activate_totp"))
    secret = activate.context["form"].secret
    wrong = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
    assert wrong.status_code == 200 and wrong.context["form"].errors
    done = client.post(reverse("mfa_activate_totp"), {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302
    client.post(reverse("account_logout"))

    # Later (a code is good once): password, then the authenticator's code.
    with time_machine.travel(timezone.now() + timedelta(seconds=90)):
        again = Client()
        step = again.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
        assert step.status_code == 302 and reverse("mfa_authenticate") in step["Location"]
        assert again.get(reverse("portal:overview")).status_code == 302  # not in yet
        wrong_code = again.post(reverse("mfa_authenticate"), {"code": "123456"})
        assert wrong_code.status_code == 200  # a wrong code keeps you out
        passed = again.post(reverse("mfa_authenticate"), {"code": pyotp.TOTP(secret).now()})
        assert passed.status_code == 302
        assert again.get(reverse("portal:overview")).status_code == 200


@pytest.mark.parametrize(
    ("role", "keys", "brand"),
    [
        ("owner", True, True),
        ("admin", True, True),
        ("developer", True, False),
        ("finance", False, False),
        ("viewer", False, False),
    ],
)
def test_each_role_may_do_what_it_may(role, keys, brand):
    client, member = _member(role)
    made = client.post(reverse("portal:api-keys"), {"name": "k", "mode": "live"})
    assert (made.status_code == 200) is keys
    assert VendorAPIKey.objects.filter(vendor=member.vendor).exists() is keys
    page = client.get(reverse("portal:api-keys")).content.decode()
    assert ('id="create-key"' in page) is keys
    saved = client.post(
        reverse("portal:brand"), {"display_name": "Shop", "primary_color": "#0f766e"}
    )
    assert (saved.status_code == 302) is brand
    assert VendorBrand.objects.filter(vendor=member.vendor).exists() is brand


def test_forms_show_errors_in_place_and_write_nothing():
    client, _member_row = _member("owner")
    bad = client.post(
        reverse("portal:brand"),
        {"display_name": "", "primary_color": "red", "logo_url": "http://plain.example/l.png"},
    )
    html = bad.content.decode()
    assert bad.status_code == 400 and "A colour as #rrggbb." in html
    assert "This field is required." in html
    insecure = client.post(
        reverse("portal:brand"),
        {"display_name": "Shop", "primary_color": "#000000", "logo_url": "http://plain.example/l"},
    )
    assert insecure.status_code == 400 and "An https:// address." in insecure.content.decode()
    assert not VendorBrand.objects.exists()
    assert client.post(reverse("portal:api-keys"), {"name": ""}).status_code == 400
    assert not VendorAPIKey.objects.exists()


def _portal_routes() -> list[URLPattern]:
    return [p for p in portal_urls.urlpatterns if isinstance(p, URLPattern)]


def _vendor_a_world(member_a, capture):
    """Vendor A's things of every kind a portal URL names: keys, a webhook endpoint and
    delivery, an order with its eSIM, a card payment, an invoice, a request-log line."""
    from billing.accounts import vendor_ledger_account
    from billing.models import Invoice
    from orders.models import Order
    from payments.services import payment_create_for_wallet_topup
    from tests.orders.factories import BUNDLE_CODE, bundles_create, fund
    from vendors.models import ApiRequestLog
    from webhooks.services import endpoint_create, endpoint_test

    vendor = member_a.vendor
    key, raw = member_api_key_issue(member=member_a, name="A's key")
    endpoint, _secret = endpoint_create(vendor=vendor, url="https://93.184.215.14/a", events=["*"])
    delivery = endpoint_test(endpoint=endpoint)
    bundles_create()
    fund(vendor, 10_000)
    api = Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    with capture(execute=True):
        placed = api.post(
            "/api/v1/vendor/orders",
            {"bundle_code": BUNDLE_CODE, "quantity": 1, "customer_reference": "A-SECRET-REF"},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="a-order",
        )
    assert placed.status_code == 201, placed.content
    order = Order.objects.get(pk=placed.json()["id"])
    esim = order.esims.get()
    payment = payment_create_for_wallet_topup(vendor=vendor, amount=Money(2500, "USD"))
    today = timezone.now().date()
    invoice = Invoice.objects.create(
        vendor=vendor,
        account=vendor_ledger_account(vendor=vendor),
        period_start=today,
        period_end=today,
        currency="USD",
        total=1234,
        opening_balance=0,
        closing_balance=1234,
        due_date=today,
    )
    log = ApiRequestLog.objects.filter(vendor=vendor).latest("id")
    row = {
        "line": 2,
        "bundle_code": BUNDLE_CODE,
        "quantity": 1,
        "customer_reference": "A-SECRET-REF",
    }
    bulk = BulkOrder.objects.create(
        vendor=vendor,
        livemode=True,
        file_sha256="a" * 64,
        rows=[row],
        results={"2": {"order_id": order.pk, "replayed": False}},
    )
    rule = AutoTopupRule.objects.create(
        vendor=vendor, esim=esim, bundle_code=BUNDLE_CODE, below_percent=20
    )
    ids = {
        "bulk_id": bulk.pk,
        "rule_id": rule.pk,
        ("auto-topup-action", "action"): "pause",
        "key_id": key.pk,
        "endpoint_id": endpoint.pk,
        "action": "rotate",
        ("esim-action", "action"): "resend",
        "delivery_id": delivery.pk,
        "order_id": order.pk,
        "iccid": esim.iccid,
        "payment_id": payment.pk,
        "outcome": "pay",
        "invoice_id": invoice.pk,
        "fmt": "pdf",
        "log_id": log.pk,
        "what": "provisioning-failure",
        "member_id": member_a.pk,
        ("team-member", "action"): "remove",
        "token": "not-a-real-invitation",
    }
    markers = [key.prefix, vendor.name, endpoint.url, esim.iccid, "A-SECRET-REF", invoice.number]
    return ids, markers, raw, key, endpoint


def test_another_vendors_staff_reach_nothing_on_any_portal_url(django_capture_on_commit_callbacks):
    """Generated over every portal URL, in live and in test mode: vendor B's owner, with
    vendor A's object ids in the path, never sees or changes vendor A's things."""
    _client_a, member_a = _member("owner")
    ids, markers, raw, key, endpoint = _vendor_a_world(member_a, django_capture_on_commit_callbacks)
    client_b, _member_b = _member("owner")
    checked = 0
    for mode in ("live", "test"):
        client_b.post(reverse("portal:mode"), {"mode": mode})
        for route in _portal_routes():
            kwargs = {n: ids.get((route.name, n), ids[n]) for n in route.pattern.converters}
            url = reverse(f"portal:{route.name}", kwargs=kwargs)
            for method in ("get", "post"):
                response = getattr(client_b, method)(
                    url, {"name": "x", "display_name": "x", "bundle_code": "x", "mode": mode}
                )
                body = response.content.decode()
                leaked = [m for m in markers if m in body]
                assert not leaked, (url, method, mode, leaked)
                checked += 1
    key.refresh_from_db()
    endpoint.refresh_from_db()
    assert not key.revoked and checked == 4 * len(_portal_routes())
    assert AutoTopupRule.objects.get(vendor=member_a.vendor).active  # B's pause reached nothing
    assert endpoint.secret_rotated_at is None  # B's rotate reached nothing
    assert (
        Client(HTTP_AUTHORIZATION=f"Api-Key {raw}").get("/api/v1/vendor/balance").status_code == 200
    )


def test_removed_members_and_closed_vendors_lose_access_on_the_next_request():
    client, member = _member("owner")
    assert client.get(reverse("portal:overview")).status_code == 200
    member.delete()
    assert client.get(reverse("portal:overview")).status_code == 403
    client, member = _member("owner")
    Vendor.objects.filter(pk=member.vendor_id).update(status="closed")
    assert client.get(reverse("portal:api-keys")).status_code == 403
    assert Client().get(reverse("portal:overview")).status_code == 302  # anonymous: log in


def test_make_run_prints_a_working_portal_login():
    from billing.demo import seed_demo as vendors_demo
    from portal.demo import EMAIL, seed_demo
    from portal.demo import PASSWORD as DEMO_PASSWORD

    assert seed_demo(None) == []  # no demo vendor yet: nothing to log in to
    vendors_demo(None)
    (line,) = seed_demo(None)
    assert EMAIL in line and DEMO_PASSWORD in line
    seed_demo(None)  # again: nothing doubled
    client = Client()
    login = client.post(reverse("account_login"), {"login": EMAIL, "password": DEMO_PASSWORD})
    assert login.status_code == 302
    overview = client.get(reverse("portal:overview")).content.decode()
    assert "Demo Prepaid Travel Co" in overview and 'id="active"' in overview


def test_support_tickets_and_auto_top_ups_in_the_portal(
    bundles, django_capture_on_commit_callbacks
):
    from fulfilment.auto_topups.models import AutoTopupRule, AutoTopupRun
    from fulfilment.models import Esim
    from support.models import Ticket, TicketMessage
    from tests.orders.factories import TOPUP_CODE, fund, vendor_client
    from tests.orders.helpers import buy_b2b

    client, member = _member("viewer")
    fund(member.vendor, 10_000)
    api = vendor_client(member.vendor)
    esim = Esim.objects.get(order_id=buy_b2b(api, django_capture_on_commit_callbacks).json()["id"])
    _other, stranger = _member("owner")
    fund(stranger.vendor, 10_000)
    foreign = Esim.objects.get(
        order_id=buy_b2b(vendor_client(stranger.vendor), django_capture_on_commit_callbacks).json()[
            "id"
        ]
    )

    refused = client.post(
        reverse("portal:support"), {"subject": "Help", "body": "x", "iccid": foreign.iccid}
    )
    assert refused.status_code == 400 and "Unknown." in refused.content.decode()
    sent = client.post(
        reverse("portal:support"),
        {"subject": "No data in Lisbon", "body": "Customer has no data", "iccid": esim.iccid},
    )
    assert sent.status_code == 302
    ticket = Ticket.objects.get(vendor=member.vendor)
    assert ticket.iccid == esim.iccid and ticket.messages.get().via == "page"
    TicketMessage.objects.create(ticket=ticket, author="operator", body="Roaming is on now.")
    TicketMessage.objects.create(ticket=ticket, author="note", body="internal only")
    page = client.get(reverse("portal:support")).content.decode()
    assert "Roaming is on now." in page and "internal only" not in page

    rule = AutoTopupRule.objects.create(
        vendor=member.vendor, esim=esim, bundle_code=TOPUP_CODE, below_percent=20
    )
    AutoTopupRun.objects.create(rule=rule, esim=esim, trigger="data:1:20", status="applied")
    topups = client.get(reverse("portal:auto-topups")).content.decode()
    assert f"eSIM {esim.iccid}" in topups and "data:1:20" in topups and "applied" in topups
    assert foreign.iccid not in client.get(reverse("portal:auto-topups")).content.decode()


def test_webhooks_in_the_portal_create_test_rotate_replay(django_capture_on_commit_callbacks):
    """Add an endpoint (the secret shown once), send a test event, rotate the secret and
    see both signatures verify on the next delivery, replay it, disable it; finance may
    only look; another vendor reaches none of it."""
    import responses
    from standardwebhooks.webhooks import Webhook

    from tests.webhooks.factories import PUBLIC_URL
    from webhooks.models import WebhookDelivery, WebhookEndpoint

    capture = django_capture_on_commit_callbacks
    client, member = _member("developer")
    bad = client.post(reverse("portal:webhooks"), {"url": "ftp://x", "events": ["nope"]})
    assert bad.status_code == 400 and not WebhookEndpoint.objects.exists()
    added = client.post(reverse("portal:webhooks"), {"url": PUBLIC_URL, "events": ["*"]})
    first = re.search(r'id="secret-value">([^<]+)<', added.content.decode())[1]
    endpoint = WebhookEndpoint.objects.get(vendor=member.vendor)
    assert (
        first.startswith("whsec_")
        and first not in client.get(reverse("portal:webhooks")).content.decode()
    )

    action = reverse("portal:webhook-action", args=[endpoint.pk, "rotate"])
    with capture(execute=True):
        rotated = client.post(action, follow=True)
    # Post/redirect/get: the new secret on the webhooks page, once; a reload is a GET.
    assert rotated.redirect_chain == [(reverse("portal:webhooks"), 302)]
    second = re.search(r'id="secret-value">([^<]+)<', rotated.content.decode())[1]
    assert second != first and 'data-copy="whsec_' in rotated.content.decode()
    reloaded = client.get(reverse("portal:webhooks")).content.decode()
    assert second not in reloaded and "all events" in reloaded
    assert any("signing secret was rotated" in m.subject for m in mail.outbox)
    assert AuditLog.objects.filter(action="webhook.secret_rotate").exists()
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, PUBLIC_URL, status=204, body="ok")
        with capture(execute=True):
            client.post(reverse("portal:webhook-action", args=[endpoint.pk, "test"]))
        call = mock.calls[0]
    headers = dict(call.request.headers)
    Webhook(first).verify(call.request.body, headers)  # both sign during the overlap
    Webhook(second).verify(call.request.body, headers)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    page = client.get(reverse("portal:webhooks")).content.decode()
    assert "webhook.test" in page and "204" in page
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, PUBLIC_URL, status=204)
        with capture(execute=True):
            client.post(reverse("portal:webhook-retry", args=[delivery.pk]))
        assert len(mock.calls) == 1
    client.post(reverse("portal:webhook-action", args=[endpoint.pk, "disable"]))
    endpoint.refresh_from_db()
    assert not endpoint.enabled

    finance = Client()
    finance_member = VendorUser.objects.create(
        vendor=member.vendor, user=UserFactory(), role="finance"
    )
    finance.force_login(finance_member.user)
    finance.post(reverse("portal:webhook-action", args=[endpoint.pk, "enable"]))
    endpoint.refresh_from_db()
    assert not endpoint.enabled  # finance may look, not change
    assert 'id="add-endpoint"' not in finance.get(reverse("portal:webhooks")).content.decode()

    stranger, _other = _member("owner")
    stranger.post(reverse("portal:webhook-action", args=[endpoint.pk, "enable"]))
    stranger.post(reverse("portal:webhook-action", args=[endpoint.pk, "rotate"]))
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.secret_rotated_at is not None
    assert PUBLIC_URL not in stranger.get(reverse("portal:webhooks")).content.decode()
