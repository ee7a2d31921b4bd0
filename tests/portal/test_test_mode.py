"""Test mode: a vendor's test keys act on its test environment (the simulator as provider
and gateway, a test wallet of play money, its own webhook endpoints); test objects carry
`livemode: false` in the API and in webhooks; simulations send the webhooks live mode
would; and a whole test-mode day leaves every live figure exactly as it was."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import responses
from django.test import Client, override_settings
from django.urls import reverse
from standardwebhooks import Webhook

from billing.invoicing import invoices_close_due
from billing.models import Invoice
from billing.play_money import vendor_test_environment_open
from billing.selectors import vendor_balance, vendor_statement
from console.dashboard import dashboard_context
from fulfilment.services import esims_expiry_notify, esims_usage_refresh_due
from ledger.selectors import platform_balances, trial_balance
from orders.models import Order
from reconciliation.services import reconciliation_run
from support.models import Ticket
from tests.factories import UserFactory
from tests.orders.factories import BUNDLE_CODE, TOPUP_CODE, bundles_create, fund
from ttelgo.money import Money
from vendors.models import Vendor, VendorAPIKey, VendorUser
from vendors.services import api_key_issue
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db
HOOKS = "https://93.184.215.14/test-hooks"
LIVE_HOOKS = "https://93.184.215.14/live-hooks"


def _json_client(raw: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")


def _post(client: Client, path: str, body: dict, key: str) -> dict:
    response = client.post(
        path, json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert response.status_code in (200, 201, 202), (path, response.content[:500])
    return response.json()


@pytest.fixture
def live_world(django_capture_on_commit_callbacks):
    """An approved prepaid vendor with a live key, a live endpoint and one live order."""
    bundles_create()
    vendor = Vendor.objects.create(name="Wanderlust", status="active", currency="USD")
    fund(vendor, 50_000)
    _key, raw = api_key_issue(vendor=vendor, name="live")
    live = _json_client(raw)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as hooks:
        hooks.post(LIVE_HOOKS, status=200)
        with django_capture_on_commit_callbacks(execute=True):
            _post(
                live, "/api/v1/vendor/webhook-endpoints", {"url": LIVE_HOOKS, "events": ["*"]}, "e"
            )
        with django_capture_on_commit_callbacks(execute=True):
            order = _post(
                live, "/api/v1/vendor/orders", {"bundle_code": BUNDLE_CODE, "quantity": 1}, "o1"
            )
    assert order["livemode"] is True
    return vendor, raw, live


def _live_figures(vendor: Vendor, live: Client) -> dict:
    dashboard = dashboard_context()
    dashboard.pop("provider")
    run = reconciliation_run()
    return {
        "dashboard": dashboard,
        "trial_balance": [(r.account.pk, r.debit, r.credit) for r in trial_balance().rows],
        "platform": platform_balances(),
        "statement": list(vendor_statement(vendor=vendor).values_list("id", "amount")),
        "balance": vendor_balance(vendor=vendor),
        "invoices": list(Invoice.objects.values_list("id", "vendor_id", "total")),
        "findings": sorted(run.findings.values_list("code", "object_id")),
        "orders": live.get("/api/v1/vendor/orders").json(),
        "esims": live.get("/api/v1/vendor/esims").json(),
        "deliveries": live.get("/api/v1/vendor/webhook-deliveries").json(),
        "live_orders": Order.objects.filter(livemode=True).count(),
        "live_events": WebhookEvent.objects.filter(livemode=True).count(),
    }


def test_a_test_key_works_on_the_test_environment_with_livemode_false(
    live_world, django_capture_on_commit_callbacks
):
    vendor, _raw, live = live_world
    environment = vendor_test_environment_open(vendor=vendor)
    _key, raw = api_key_issue(vendor=environment, name="test")
    assert raw.startswith("ttg_test_")
    test = _json_client(raw)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as hooks:
        hooks.post(HOOKS, status=200)
        with django_capture_on_commit_callbacks(execute=True):
            endpoint = _post(
                test, "/api/v1/vendor/webhook-endpoints", {"url": HOOKS, "events": ["*"]}, "e"
            )
        assert endpoint["livemode"] is False
        # The live provider is eSIM Go and nothing answers for it: a test order still
        # completes, at the simulator.
        with (
            override_settings(ESIM_PROVIDER="esimgo", ESIMGO_API_KEY="not-used"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            order = _post(
                test, "/api/v1/vendor/orders", {"bundle_code": BUNDLE_CODE, "quantity": 1}, "t1"
            )
        body = test.get(f"/api/v1/vendor/orders/{order['id']}").json()
        assert body["status"] == "completed" and body["livemode"] is False
        assert body["esims"][0]["livemode"] is False
        sent = [c for c in hooks.calls if c.request.url == HOOKS]
    payload = Webhook(endpoint["secret"]).verify(
        sent[-1].request.body, dict(sent[-1].request.headers)
    )
    assert payload["type"] == "order.completed" and payload["livemode"] is False
    # Each side sees only its own: the live key lists no test order and the reverse.
    assert order["id"] not in [o["id"] for o in live.get("/api/v1/vendor/orders").json()["results"]]
    assert [o["id"] for o in test.get("/api/v1/vendor/orders").json()["results"]] == [order["id"]]
    assert test.get("/api/v1/vendor/balance").json()["available"]["amount"] == "995.50"
    # Every other object a test key sees says so too; a live key's say the opposite.
    logged = test.get("/api/v1/vendor/request-logs").json()["results"]
    assert logged and all(line["livemode"] is False for line in logged)
    assert test.get(f"/api/v1/vendor/request-logs/{logged[0]['id']}").json()["livemode"] is False
    lines = test.get("/api/v1/vendor/ledger").json()["results"]
    assert lines and all(line["livemode"] is False for line in lines)
    assert all(
        line["livemode"] is True for line in live.get("/api/v1/vendor/ledger").json()["results"]
    )
    rule = _post(
        test,
        "/api/v1/vendor/auto-topups",
        {"bundle_code": TOPUP_CODE, "below_percent": 20},
        "rule",
    )
    assert rule["livemode"] is False
    with django_capture_on_commit_callbacks(execute=True):
        refund = _post(
            test, f"/api/v1/vendor/esims/{body['esims'][0]['iccid']}/refund", {"reason": "x"}, "r"
        )
    assert refund["livemode"] is False and refund["status"] == "refunded"
    # Support is the company's: a ticket opened with a test key is the live vendor's, in
    # test mode: the test key lists it, the live key does not.
    ticket = _post(test, "/api/v1/vendor/tickets", {"subject": "Q", "body": "How?"}, "t")
    assert ticket["livemode"] is False
    assert Ticket.objects.get(pk=ticket["id"]).vendor_id == vendor.pk
    assert [t["id"] for t in test.get("/api/v1/vendor/tickets").json()["results"]] == [ticket["id"]]
    assert live.get("/api/v1/vendor/tickets").json()["results"] == []


def test_a_key_whose_mode_marker_is_changed_is_refused(live_world):
    vendor, raw, _live = live_world
    _key, test_raw = api_key_issue(vendor=vendor_test_environment_open(vendor=vendor), name="t")
    swapped_to_live = "ttg_live_" + test_raw.removeprefix("ttg_test_")
    swapped_to_test = "ttg_test_" + raw.removeprefix("ttg_live_")
    for key in (swapped_to_live, swapped_to_test, test_raw.removeprefix("ttg_test_")):
        assert _json_client(key).get("/api/v1/vendor/balance").status_code == 401
    assert (
        _json_client(raw.removeprefix("ttg_live_")).get("/api/v1/vendor/balance").status_code == 200
    )


def test_simulations_send_the_webhooks_live_mode_would(
    live_world, django_capture_on_commit_callbacks
):
    vendor, _raw, _live = live_world
    owner = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role="owner")
    portal = Client()
    portal.force_login(owner.user)
    portal.post(reverse("portal:mode"), {"mode": "test"})
    environment = vendor_test_environment_open(vendor=vendor)
    _key, raw = api_key_issue(vendor=environment, name="test")
    test = _json_client(raw)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as hooks:
        hooks.post(HOOKS, status=200)
        with django_capture_on_commit_callbacks(execute=True):
            _post(test, "/api/v1/vendor/webhook-endpoints", {"url": HOOKS, "events": ["*"]}, "e")
            order = _post(
                test, "/api/v1/vendor/orders", {"bundle_code": BUNDLE_CODE, "quantity": 1}, "o"
            )
        iccid = Order.objects.get(pk=order["id"]).esims.get().iccid
        action = reverse("portal:esim-action", args=[iccid, "simulate"])
        with django_capture_on_commit_callbacks(execute=True):
            assert portal.post(action, {"what": "usage:80"}).status_code == 302
        with django_capture_on_commit_callbacks(execute=True):
            assert portal.post(action, {"what": "expiry"}).status_code == 302
        with django_capture_on_commit_callbacks(execute=True):
            failed = portal.post(
                reverse("portal:test-simulate", args=["provisioning-failure"]),
                {"bundle_code": BUNDLE_CODE},
            )
        assert failed.status_code == 302
        with django_capture_on_commit_callbacks(execute=True):
            portal.post(reverse("portal:test-simulate", args=["payment-failure"]))
        with django_capture_on_commit_callbacks(execute=True):
            portal.post(reverse("portal:test-simulate", args=["payment-success"]))
        bodies = [json.loads(c.request.body) for c in hooks.calls if c.request.url == HOOKS]
    by_type: dict[str, list[dict]] = {}
    for body in bodies:
        assert body["livemode"] is False
        by_type.setdefault(body["type"], []).append(body["data"])
    assert sorted(d["percent"] for d in by_type["esim.usage_threshold"]) == [50, 80]
    assert by_type["esim.expired"][0]["iccid"] == iccid
    assert len(by_type["order.failed"]) == 1
    assert len(by_type["wallet.topup_succeeded"]) == 1  # the declined card sends nothing
    # 1000.00 play money - 4.50 - 4.50 reserved and released (failed order) + 100.00 paid
    assert vendor_balance(vendor=environment).available == Money(109_550, "USD")
    # A live eSIM cannot be simulated on.
    live_iccid = Order.objects.get(vendor=vendor).esims.get().iccid
    portal.post(reverse("portal:mode"), {"mode": "live"})
    refused = portal.post(
        reverse("portal:esim-action", args=[live_iccid, "simulate"]),
        {"what": "usage:80"},
        follow=True,
    )
    assert "test-mode objects only" in refused.content.decode()


def _beat_jobs(capture) -> None:
    with capture(execute=True):
        esims_usage_refresh_due(older_than=timedelta(0))
        esims_expiry_notify()
        invoices_close_due()


def test_a_full_test_mode_day_leaves_every_live_figure_unchanged(
    live_world, django_capture_on_commit_callbacks
):
    vendor, _raw, live = live_world
    _beat_jobs(django_capture_on_commit_callbacks)  # what they do to live objects, done first
    before = _live_figures(vendor, live)
    environment = vendor_test_environment_open(vendor=vendor)
    _key, raw = api_key_issue(vendor=environment, name="test")
    test = _json_client(raw)
    owner = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role="owner")
    portal = Client()
    portal.force_login(owner.user)
    portal.post(reverse("portal:mode"), {"mode": "test"})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as hooks:
        hooks.post(HOOKS, status=200)
        with django_capture_on_commit_callbacks(execute=True):
            _post(test, "/api/v1/vendor/webhook-endpoints", {"url": HOOKS, "events": ["*"]}, "e")
        orders = []
        for n in range(3):
            with django_capture_on_commit_callbacks(execute=True):
                orders.append(
                    _post(
                        test,
                        "/api/v1/vendor/orders",
                        {"bundle_code": BUNDLE_CODE, "quantity": 1, "customer_reference": f"t{n}"},
                        f"o{n}",
                    )
                )
        iccids = [Order.objects.get(pk=o["id"]).esims.get().iccid for o in orders]
        # a refund of an unused eSIM (revoked at the simulator, owed back in test books)
        with django_capture_on_commit_callbacks(execute=True):
            _post(test, f"/api/v1/vendor/esims/{iccids[2]}/refund", {"reason": "unused"}, "r")
        with django_capture_on_commit_callbacks(execute=True):
            _post(
                test, f"/api/v1/vendor/esims/{iccids[0]}/topups", {"bundle_code": TOPUP_CODE}, "u"
            )
        with django_capture_on_commit_callbacks(execute=True):
            _post(
                test,
                "/api/v1/vendor/wallet/topups",
                {"amount": {"amount": "50.00", "currency": "USD"}},
                "w",
            )
        for what in ("first_use", "usage:50", "usage:100", "expiry"):
            with django_capture_on_commit_callbacks(execute=True):
                portal.post(
                    reverse("portal:esim-action", args=[iccids[1], "simulate"]), {"what": what}
                )
        for what in ("provisioning-failure", "payment-failure", "payment-success"):
            with django_capture_on_commit_callbacks(execute=True):
                portal.post(
                    reverse("portal:test-simulate", args=[what]), {"bundle_code": BUNDLE_CODE}
                )
        portal.post(reverse("portal:test-wallet-refill"))
        _beat_jobs(django_capture_on_commit_callbacks)
    assert Order.objects.filter(livemode=False).count() >= 5
    assert WebhookEvent.objects.filter(livemode=False).count() >= 8
    assert not Invoice.objects.filter(vendor=environment).exists()
    after = _live_figures(vendor, live)
    assert after == before
    # The operators never see the test environment in the vendor list.
    assert environment.pk not in [v.pk for v in Vendor.objects.filter(live_vendor__isnull=True)]
    assert VendorAPIKey.objects.filter(vendor=environment).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_first_visits_at_once_open_one_test_environment_funded_once():
    """Eight PostgreSQL connections open the same vendor's test environment at the same
    moment (the first visits of a team in test mode): one environment, one opening grant
    of play money."""
    import threading

    from django.db import connection

    from ledger.models import Transaction

    vendor = Vendor.objects.create(name="Crowd", status="pending", currency="USD")
    start = threading.Barrier(8)
    opened: list[int] = []
    errors: list[str] = []

    def visit() -> None:
        try:
            start.wait(timeout=30)
            opened.append(vendor_test_environment_open(vendor=vendor).pk)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=visit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and len(opened) == 8 and len(set(opened)) == 1
    environment = Vendor.objects.get(live_vendor=vendor)
    assert environment.pk == opened[0] and environment.status == "active"
    grants = Transaction.objects.filter(reference__startswith=f"test-mode:{environment.pk}:")
    assert grants.count() == 1
    assert vendor_balance(vendor=environment).available == Money(100_000, "USD")
