"""Auto top-up: a vendor's rule (per eSIM or its default) buys the bundle on its wallet
when data falls below the level or expiry nears, once per crossing and within the monthly
limit; a customer's is charged off-session to the card saved with consent, and a bank
asking for authentication gets the customer an email with a link to confirm. Ten
concurrent usage updates of one crossing top up once (PostgreSQL threads)."""

from __future__ import annotations

import threading
from datetime import timedelta
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone

from billing.selectors import vendor_balance
from fulfilment.auto_topups.models import AutoTopupRule, AutoTopupRun
from fulfilment.auto_topups.triggers import auto_topups_expiry_check
from fulfilment.models import Esim
from fulfilment.services import esim_usage_apply
from orders.models import Order
from payments.models import Payment, PaymentProfile
from sandbox.gateway import AUTHENTICATION_REQUIRED_CARD, DECLINED_CARD
from sandbox.provider import SandboxProvider
from sandbox.stripe import sandbox_intent_succeed
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import (
    BUNDLE_CODE,
    RETAIL,
    TOPUP_CODE,
    bundles_create,
    customer_client,
    fund,
    vendor_client,
)
from tests.orders.helpers import assert_ledger_sound, buy_b2b, post
from tests.webhooks.factories import endpoint_for
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db
R = AutoTopupRun.Status


def _bundles(n: int) -> list[dict]:
    """n bundles on the eSIM as the provider reports them (n grows with each top-up)."""
    return [
        {"bundle_code": BUNDLE_CODE, "state": "active", "assigned_at": f"2026-11-0{i + 1}"}
        for i in range(n)
    ]


def _use(esim: Esim, *, remaining: int, bundles: int = 1, capture=None) -> None:
    def apply() -> None:
        esim_usage_apply(
            esim_id=esim.pk,
            initial_mb=1000,
            remaining_mb=remaining,
            unlimited=False,
            state="active",
            bundles=_bundles(bundles),
        )

    if capture is None:
        apply()
        return
    with capture(execute=True):
        apply()


@pytest.fixture
def vendor_api(bundles):
    vendor = VendorFactory(currency="USD")
    fund(vendor, 100_000)
    endpoint_for(vendor, events=["esim.auto_topup"])
    return vendor_client(vendor)


def _vendor_esim(api, capture) -> Esim:
    order_id = buy_b2b(api, capture).json()["id"]
    return Esim.objects.get(order_id=order_id)


def test_a_vendor_rule_tops_up_once_per_crossing_within_the_monthly_limit(
    vendor_api, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    esim = _vendor_esim(vendor_api, capture)
    body = {"iccid": esim.iccid, "bundle_code": TOPUP_CODE, "below_percent": 20, "monthly_limit": 2}
    created = post(vendor_api, "/api/v1/vendor/auto-topups", body)
    assert created.status_code == 201, created.content
    assert created.json()["iccid"] == esim.iccid and created.json()["runs"] == []
    again = post(vendor_api, "/api/v1/vendor/auto-topups", body)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    before = vendor_balance(vendor=vendor_api.vendor).available.amount

    _use(esim, remaining=300, capture=capture)  # 30 % left: above the level
    assert AutoTopupRun.objects.count() == 0
    _use(esim, remaining=150, capture=capture)  # 15 % left: the crossing
    (run,) = AutoTopupRun.objects.all()
    assert run.status == R.APPLIED and run.trigger == "data:1:20"
    topup = Order.objects.get(pk=run.order_id)
    assert (topup.kind, topup.target_iccid, topup.status) == ("topup", esim.iccid, "completed")
    assert vendor_balance(vendor=vendor_api.vendor).available.amount == before - topup.total
    event = WebhookEvent.objects.get(type="esim.auto_topup")
    assert event.data["status"] == "applied" and event.data["topup_order_id"] == topup.pk

    _use(esim, remaining=100, capture=capture)  # the same crossing, reported again
    assert AutoTopupRun.objects.count() == 1
    _use(esim, remaining=100, bundles=2, capture=capture)  # a new bundle, low again
    assert AutoTopupRun.objects.filter(status=R.APPLIED).count() == 2
    _use(esim, remaining=100, bundles=3, capture=capture)  # over the monthly limit
    limited = AutoTopupRun.objects.get(trigger="data:3:20")
    assert limited.status == R.LIMIT_REACHED and limited.order_id is None
    assert Order.objects.filter(kind="topup").count() == 2
    rule = vendor_api.get(f"/api/v1/vendor/auto-topups/{created.json()['id']}").json()
    assert [r["status"] for r in rule["runs"]] == ["limit_reached", "applied", "applied"]
    assert_ledger_sound()


def test_rules_are_checked_and_a_vendors_default_covers_its_other_esims(
    vendor_api, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    own, other = _vendor_esim(vendor_api, capture), _vendor_esim(vendor_api, capture)
    bad = post(vendor_api, "/api/v1/vendor/auto-topups", {"bundle_code": TOPUP_CODE})
    assert bad.status_code == 400 and "below_percent" in bad.json()["error"]["details"]
    bad = post(
        vendor_api,
        "/api/v1/vendor/auto-topups",
        {"bundle_code": TOPUP_CODE, "below_percent": 100, "expiry_days": 90},
    )
    assert set(bad.json()["error"]["details"]) == {"below_percent", "expiry_days"}
    with mock.patch.object(SandboxProvider, "bundle_compatible", return_value=False):
        misfit = post(
            vendor_api,
            "/api/v1/vendor/auto-topups",
            {"iccid": own.iccid, "bundle_code": TOPUP_CODE, "below_percent": 20},
        )
    assert misfit.status_code == 409 and misfit.json()["error"]["code"] == "bundle_incompatible"
    stranger = vendor_client(VendorFactory())
    foreign = post(
        stranger,
        "/api/v1/vendor/auto-topups",
        {"iccid": own.iccid, "bundle_code": TOPUP_CODE, "below_percent": 20},
    )
    assert foreign.status_code == 404
    assert AutoTopupRule.objects.count() == 0

    default = post(
        vendor_api, "/api/v1/vendor/auto-topups", {"bundle_code": TOPUP_CODE, "below_percent": 10}
    )
    assert default.status_code == 201 and default.json()["iccid"] is None
    post(
        vendor_api,
        "/api/v1/vendor/auto-topups",
        {"iccid": own.iccid, "bundle_code": BUNDLE_CODE, "below_percent": 50},
    )
    _use(own, remaining=400, capture=capture)  # its own rule (50 %)
    _use(other, remaining=400, capture=capture)  # the default (10 %): not yet
    (run,) = AutoTopupRun.objects.all()
    assert (
        run.esim == own
        and Order.objects.get(pk=run.order_id).items.get().bundle_code == BUNDLE_CODE
    )
    _use(other, remaining=50, capture=capture)
    assert AutoTopupRun.objects.get(esim=other).rule_id == default.json()["id"]
    assert stranger.get(f"/api/v1/vendor/auto-topups/{default.json()['id']}").status_code == 404
    gone = vendor_api.delete(f"/api/v1/vendor/auto-topups/{default.json()['id']}")
    assert gone.status_code == 204
    assert vendor_api.get("/api/v1/vendor/auto-topups").json()["count"] == 1


def test_a_default_rule_names_a_bundle_we_sell(vendor_api):
    """A vendor's default rule (no eSIM to check the bundle against) still refuses a bundle
    that does not exist, when created and when changed; nothing is stored."""
    unknown = post(
        vendor_api, "/api/v1/vendor/auto-topups", {"bundle_code": "no_such", "below_percent": 20}
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert AutoTopupRule.objects.count() == 0
    made = post(
        vendor_api, "/api/v1/vendor/auto-topups", {"bundle_code": TOPUP_CODE, "below_percent": 20}
    )
    assert made.status_code == 201
    changed = vendor_api.patch(
        f"/api/v1/vendor/auto-topups/{made.json()['id']}",
        {"bundle_code": "no_such"},
        format="json",
    )
    assert changed.status_code == 404
    assert AutoTopupRule.objects.get().bundle_code == TOPUP_CODE


def test_a_top_up_the_wallet_cannot_pay_fails_and_says_why(
    bundles, django_capture_on_commit_callbacks
):
    vendor = VendorFactory(currency="USD")
    fund(vendor, RETAIL[BUNDLE_CODE])  # enough for the eSIM, not for a top-up
    endpoint_for(vendor, events=["esim.auto_topup"])
    api = vendor_client(vendor)
    esim = _vendor_esim(api, django_capture_on_commit_callbacks)
    post(
        api,
        "/api/v1/vendor/auto-topups",
        {"iccid": esim.iccid, "bundle_code": TOPUP_CODE, "below_percent": 20},
    )
    _use(esim, remaining=0, capture=django_capture_on_commit_callbacks)
    (run,) = AutoTopupRun.objects.all()
    assert run.status == R.FAILED and run.detail.startswith("insufficient_funds")
    assert WebhookEvent.objects.get(type="esim.auto_topup").data["status"] == "failed"
    assert not Order.objects.filter(kind="topup").exists()


def test_expiry_near_tops_up_once(vendor_api, django_capture_on_commit_callbacks):
    esim = _vendor_esim(vendor_api, django_capture_on_commit_callbacks)
    post(
        vendor_api,
        "/api/v1/vendor/auto-topups",
        {"iccid": esim.iccid, "bundle_code": TOPUP_CODE, "expiry_days": 2},
    )
    Esim.objects.filter(pk=esim.pk).update(expires_at=timezone.now() + timedelta(days=3))
    assert auto_topups_expiry_check() == 0  # three days away
    Esim.objects.filter(pk=esim.pk).update(expires_at=timezone.now() + timedelta(hours=30))
    with django_capture_on_commit_callbacks(execute=True):
        assert auto_topups_expiry_check() == 1
    assert auto_topups_expiry_check() == 0
    (run,) = AutoTopupRun.objects.all()
    assert run.trigger.startswith("expiry:") and run.status == R.APPLIED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_usage_updates_top_up_once():
    bundles_create()
    vendor = VendorFactory(currency="USD")
    fund(vendor, 100_000)
    api = vendor_client(vendor)
    esim_order = buy_b2b(api, _NoCapture).json()["id"]
    esim = Esim.objects.get(order_id=esim_order)
    post(
        api,
        "/api/v1/vendor/auto-topups",
        {"iccid": esim.iccid, "bundle_code": TOPUP_CODE, "below_percent": 20},
    )
    start = threading.Barrier(10)
    errors: list[str] = []

    def update() -> None:
        try:
            start.wait(timeout=30)
            _use(esim, remaining=100)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=update) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    (run,) = AutoTopupRun.objects.all()
    assert run.status == R.APPLIED
    assert Order.objects.filter(kind="topup", target_iccid=esim.iccid).count() == 1
    assert_ledger_sound()


class _NoCapture:
    """The transactional test commits for real: on-commit work runs by itself."""

    def __init__(self, execute: bool = True) -> None:
        pass

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


# --- customers ----------------------------------------------------------------------------


def _customer_with_saved_card(capture) -> tuple:
    user = UserFactory(language="fr")
    api = customer_client(user)
    created = post(
        api, "/api/v1/orders", {"bundle_code": BUNDLE_CODE, "quantity": 1, "save_card": True}
    )
    assert created.status_code == 201, created.content
    with capture(execute=True):
        intent = Payment.objects.get(order_id=created.json()["id"]).payment_intent_id
        sandbox_intent_succeed(payment_intent_id=intent)
    esim = Esim.objects.get(order_id=created.json()["id"])
    return user, api, esim


def test_a_customer_rule_charges_the_saved_card(bundles, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    user, api, esim = _customer_with_saved_card(capture)
    profile = PaymentProfile.objects.get(user=user)
    assert profile.stripe_customer_id.startswith("cus_") and profile.payment_method_id
    nobody = customer_client(UserFactory())
    no_card = post(
        nobody,
        "/api/v1/auto-topups",
        {"iccid": esim.iccid, "bundle_code": TOPUP_CODE, "below_percent": 20},
    )
    assert no_card.status_code == 409
    created = post(
        api,
        "/api/v1/auto-topups",
        {"iccid": esim.iccid, "bundle_code": TOPUP_CODE, "below_percent": 20},
    )
    assert created.status_code == 201, created.content
    _use(esim, remaining=100, capture=capture)
    (run,) = AutoTopupRun.objects.all()
    assert run.status == R.APPLIED
    topup = Order.objects.get(pk=run.order_id)
    assert topup.status == "completed" and topup.customer == user
    told = mail.outbox[-1]
    assert told.subject == "Votre eSIM a été rechargée" and esim.iccid in told.body
    assert_ledger_sound()


def test_a_bank_asking_for_authentication_gets_the_customer_a_link(
    bundles, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    user, api, esim = _customer_with_saved_card(capture)
    post(
        api,
        "/api/v1/auto-topups",
        {"iccid": esim.iccid, "bundle_code": TOPUP_CODE, "below_percent": 20},
    )
    PaymentProfile.objects.filter(user=user).update(payment_method_id=AUTHENTICATION_REQUIRED_CARD)
    _use(esim, remaining=100, capture=capture)
    (run,) = AutoTopupRun.objects.all()
    assert run.status == R.ACTION_REQUIRED
    topup = Order.objects.get(pk=run.order_id)
    assert topup.status == "awaiting_payment"
    email = mail.outbox[-1]
    assert email.subject == "Confirmez la recharge de votre eSIM"
    link = next(w for w in email.body.split() if "/pay/" in w)
    page = Client().get(urlsplit(link).path)
    assert page.status_code == 200 and 'id="confirm-payment"' in page.content.decode()
    # The same crossing reported again while the customer has not confirmed: nothing new.
    _use(esim, remaining=90, capture=capture)
    assert AutoTopupRun.objects.count() == 1
    # The customer confirms (the sandbox's stand-in for the bank's check).
    with capture(execute=True):
        intent = Payment.objects.get(order=topup).payment_intent_id
        confirmed = Client().post(f"/api/v1/sandbox/payment_intents/{intent}/succeed")
    assert confirmed.status_code == 200
    topup.refresh_from_db()
    assert topup.status == "completed"
    assert 'id="paid"' in Client().get(urlsplit(link).path).content.decode()
    assert Client().get("/pay/forged").status_code == 404


def test_a_top_up_waiting_for_the_customer_holds_the_next_one_only_while_it_waits(
    bundles, django_capture_on_commit_callbacks
):
    """A run that asked the customer to confirm is in flight while its order waits for
    the payment; once that order is paid (or lapses), the next crossing tops up again."""
    capture = django_capture_on_commit_callbacks
    user, api, esim = _customer_with_saved_card(capture)
    post(
        api,
        "/api/v1/auto-topups",
        {"iccid": esim.iccid, "bundle_code": TOPUP_CODE, "below_percent": 20},
    )
    PaymentProfile.objects.filter(user=user).update(payment_method_id=AUTHENTICATION_REQUIRED_CARD)
    _use(esim, remaining=100, capture=capture)
    (first,) = AutoTopupRun.objects.all()
    assert first.status == R.ACTION_REQUIRED
    with capture(execute=True):
        intent = Payment.objects.get(order_id=first.order_id).payment_intent_id
        Client().post(f"/api/v1/sandbox/payment_intents/{intent}/succeed")
    assert Order.objects.get(pk=first.order_id).status == "completed"
    # The confirmed top-up landed (a second bundle) and the data runs low again.
    _use(esim, remaining=150, bundles=2, capture=capture)
    second = AutoTopupRun.objects.exclude(pk=first.pk).get()
    assert second.status == R.ACTION_REQUIRED and second.order_id != first.order_id
    # This time the customer never confirms: the order lapses, and the run holds no more.
    Order.objects.filter(pk=second.order_id).update(status="cancelled")
    _use(esim, remaining=100, bundles=3, capture=capture)
    assert AutoTopupRun.objects.count() == 3


def test_a_declined_saved_card_fails_the_top_up_and_tells_the_customer(
    bundles, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    user, api, esim = _customer_with_saved_card(capture)
    post(
        api,
        "/api/v1/auto-topups",
        {"iccid": esim.iccid, "bundle_code": TOPUP_CODE, "below_percent": 20},
    )
    PaymentProfile.objects.filter(user=user).update(payment_method_id=DECLINED_CARD)
    _use(esim, remaining=100, capture=capture)
    (run,) = AutoTopupRun.objects.all()
    assert run.status == R.FAILED and "declined" in run.detail
    assert mail.outbox[-1].subject == "La recharge automatique de votre eSIM a échoué"


def test_a_rule_is_changed_and_stopped(vendor_api, django_capture_on_commit_callbacks):
    esim = _vendor_esim(vendor_api, django_capture_on_commit_callbacks)
    rule = post(
        vendor_api,
        "/api/v1/vendor/auto-topups",
        {"iccid": esim.iccid, "bundle_code": TOPUP_CODE, "below_percent": 20},
    ).json()
    url = f"/api/v1/vendor/auto-topups/{rule['id']}"
    changed = vendor_api.patch(url, {"monthly_limit": 5, "bundle_code": BUNDLE_CODE}, format="json")
    assert changed.status_code == 200, changed.content
    assert (changed.json()["monthly_limit"], changed.json()["bundle_code"]) == (5, BUNDLE_CODE)
    bad = vendor_api.patch(url, {"below_percent": None, "expiry_days": None}, format="json")
    assert bad.status_code == 400
    with mock.patch.object(SandboxProvider, "bundle_compatible", return_value=False):
        misfit = vendor_api.patch(url, {"bundle_code": TOPUP_CODE}, format="json")
    assert misfit.status_code == 409
    assert vendor_api.delete(url).status_code == 204
    assert vendor_api.get(url).status_code == 404
    _use(esim, remaining=0, capture=django_capture_on_commit_callbacks)
    assert AutoTopupRun.objects.count() == 0  # stopped: nothing fires
    again = post(
        vendor_api,
        "/api/v1/vendor/auto-topups",
        {"iccid": esim.iccid, "bundle_code": TOPUP_CODE, "below_percent": 20},
    )
    assert again.status_code == 201  # a stopped rule leaves room for a new one


def test_a_customer_rule_whose_card_was_removed_fails_and_says_so(
    bundles, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    user, api, esim = _customer_with_saved_card(capture)
    post(
        api,
        "/api/v1/auto-topups",
        {"iccid": esim.iccid, "bundle_code": TOPUP_CODE, "below_percent": 20},
    )
    PaymentProfile.objects.filter(user=user).update(payment_method_id="")
    _use(esim, remaining=100, capture=capture)
    (run,) = AutoTopupRun.objects.all()
    assert run.status == R.FAILED and run.detail.startswith("no saved card")
    assert mail.outbox[-1].subject == "La recharge automatique de votre eSIM a échoué"
    assert (
        post(
            api, "/api/v1/auto-topups", {"bundle_code": TOPUP_CODE, "below_percent": 5}
        ).status_code
        == 400
    )


@pytest.mark.parametrize("livemode", [True, False])
def test_an_auto_top_up_and_the_end_customer_email_go_to_their_modes_pool(
    bundles, livemode, django_capture_on_commit_callbacks
):
    """A test eSIM's auto top-up run and a test order's end-customer email are test
    mode's work: queued for the test pool, never the live provisioning pool."""
    from fulfilment.notifications import order_completed_notify
    from orders.services import order_create_b2b
    from ttelgo import queues
    from vendors.services import vendor_test_environment

    live = VendorFactory(currency="USD")
    vendor = live if livemode else vendor_test_environment(vendor=live)[0]
    fund(vendor, 100_000)
    with django_capture_on_commit_callbacks(execute=True):
        order = order_create_b2b(
            vendor=vendor,
            bundle_code=BUNDLE_CODE,
            quantity=1,
            customer_email="traveller@roam.example",
        )
    esim = Esim.objects.get(order_id=order.pk)
    assert esim.livemode is livemode
    AutoTopupRule.objects.create(
        vendor=vendor, esim=esim, bundle_code=TOPUP_CODE, below_percent=20, monthly_limit=2
    )
    order.refresh_from_db()
    assert order.status == "completed"
    expected = queues.PROVISIONING if livemode else queues.TEST
    with mock.patch("fulfilment.auto_topups.triggers.task_enqueue") as queued:
        _use(esim, remaining=100)
    assert [(c.args[0], c.kwargs["queue"]) for c in queued.call_args_list] == [
        ("fulfilment.tasks.auto_topup_execute", expected)
    ]
    with mock.patch("fulfilment.notifications.task_enqueue") as queued:
        order_completed_notify(order=order)
    assert [(c.args[0], c.kwargs["queue"]) for c in queued.call_args_list] == [
        ("fulfilment.tasks.order_esims_email", expected)
    ]
