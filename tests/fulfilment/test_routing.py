"""Routing and failover: a sale goes to the provider that can deliver at the best margin
(or the operator's preference), passes to the next when one cannot deliver, and is never
bought twice: every provider an attempt asked is asked first before another is tried."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import datetime
from unittest import mock

import pytest

from catalogue.models import Bundle, BundleOffer
from fulfilment import provisioning
from fulfilment.models import Esim
from fulfilment.provisioning import order_provision_attempt, provider_reference_for
from fulfilment.routing import routes_for
from orders.models import Order
from orders.services import order_create_b2b
from providers import (
    CircuitOpen,
    EsimInstall,
    ProviderMaintenance,
    ProviderNoCredit,
    ProviderOrder,
    ProviderOutOfStock,
    ProviderTimeout,
)
from sandbox.models import SandboxOrder
from tests.factories import VendorFactory
from tests.orders.factories import BUNDLE_CODE, COST, fund

pytestmark = pytest.mark.django_db

AIRALO_CODE = "change-7days-1gb"
_iccids = itertools.count(8_944_000_000_000_000_000)


class FakeAiralo:
    """The second provider, scripted: `on_create` / `on_find` raise or answer."""

    name = "airalo"

    def __init__(self) -> None:
        self.bought: dict[str, ProviderOrder] = {}
        self.creates: list[tuple[str, int, str]] = []
        self.finds: list[str] = []
        self.on_create: Callable[[], None] | None = None
        self.on_find: Callable[[], None] | None = None

    def create_order(self, *, bundle_code: str, quantity: int, reference: str) -> ProviderOrder:
        self.creates.append((bundle_code, quantity, reference))
        order = ProviderOrder(
            reference=f"air-{len(self.creates)}",
            status=ProviderOrder.STATUS_COMPLETED,
            bundle_code=bundle_code,
            quantity=quantity,
            esims=[EsimInstall(str(next(_iccids)), "M", "lpa.airalo.com") for _ in range(quantity)],
            client_reference=reference,
        )
        if self.on_create is not None:
            hook, self.on_create = self.on_create, None
            if hook is not _buys_then_times_out:
                hook()
            else:
                self.bought[reference] = order
                raise ProviderTimeout("Airalo timed out: POST /orders")
        self.bought[reference] = order
        return order

    def find_order(self, reference: str, *, since: datetime | None = None, **_: object):
        self.finds.append(reference)
        if self.on_find is not None:
            hook, self.on_find = self.on_find, None
            hook()
        return self.bought.get(reference)

    def get_order(self, provider_reference: str) -> ProviderOrder:
        return next(o for o in self.bought.values() if o.reference == provider_reference)


def _buys_then_times_out() -> None:  # marker: the order went through, the answer was lost
    raise AssertionError


def raising(exc: Exception) -> Callable[[], None]:
    def hook() -> None:
        raise exc

    return hook


@pytest.fixture
def airalo(settings) -> Iterator[FakeAiralo]:
    settings.ESIM_PROVIDERS = ["sandbox", "airalo"]
    fake = FakeAiralo()
    real = provisioning.get_provider

    def get_provider(livemode: bool = True, name: str | None = None):
        return fake if name == "airalo" else real(livemode)

    with mock.patch.object(provisioning, "get_provider", get_provider):
        yield fake


@pytest.fixture
def vendor(bundles):
    vendor = VendorFactory(currency="USD")
    fund(vendor, 100_000)
    return vendor


def offer(cost: int, **fields) -> BundleOffer:
    return BundleOffer.objects.create(
        bundle=Bundle.objects.get(code=BUNDLE_CODE),
        provider=fields.pop("provider", "airalo"),
        provider_code=fields.pop("provider_code", AIRALO_CODE),
        cost_amount=cost,
        currency="USD",
        **fields,
    )


def sandbox_orders(order_id: int) -> int:
    return SandboxOrder.objects.filter(client_reference=provider_reference_for(order_id)).count()


def new_order(vendor) -> Order:
    order = order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=2)
    assert order.livemode
    return order


def test_the_best_margin_wins(vendor, airalo):
    offer(COST[BUNDLE_CODE] - 20)  # cheaper at Airalo
    order = new_order(vendor)
    assert order_provision_attempt(order_id=order.pk).result == "completed"
    order.refresh_from_db()
    assert (order.status, order.provider, order.provider_reference) == (
        "completed",
        "airalo",
        "air-1",
    )
    assert order.provider_route.startswith("margin")
    assert airalo.creates == [(AIRALO_CODE, 2, provider_reference_for(order.pk))]
    assert sandbox_orders(order.pk) == 0
    # our product code on the eSIMs, never the provider's
    assert set(Esim.objects.filter(order=order).values_list("bundle_code", flat=True)) == {
        BUNDLE_CODE
    }


def test_a_dearer_offer_is_not_chosen(vendor, airalo):
    offer(COST[BUNDLE_CODE] + 20)
    order = new_order(vendor)
    assert order_provision_attempt(order_id=order.pk).result == "completed"
    order.refresh_from_db()
    assert order.provider == "sandbox" and airalo.creates == []
    assert sandbox_orders(order.pk) == 1


def test_an_operator_preference_beats_the_margin(vendor, airalo):
    offer(COST[BUNDLE_CODE] - 20)
    offer(COST[BUNDLE_CODE], provider="sandbox", provider_code=BUNDLE_CODE, priority=1)
    routes = routes_for(bundle_code=BUNDLE_CODE, livemode=True)
    assert [(r.provider, r.reason) for r in routes] == [
        ("sandbox", "priority"),
        ("airalo", "margin"),
    ]


def test_drained_and_disabled_providers_get_no_sale(vendor, airalo, settings):
    offer(COST[BUNDLE_CODE] - 20)
    settings.ESIM_PROVIDERS_DRAINED = ["airalo"]
    assert [r.provider for r in routes_for(bundle_code=BUNDLE_CODE, livemode=True)] == ["sandbox"]
    settings.ESIM_PROVIDERS_DRAINED = []
    settings.ESIM_PROVIDERS = ["sandbox"]
    assert [r.provider for r in routes_for(bundle_code=BUNDLE_CODE, livemode=True)] == ["sandbox"]
    assert [r.provider for r in routes_for(bundle_code=BUNDLE_CODE, livemode=False)] == ["sandbox"]


@pytest.mark.parametrize(
    "refusal",
    [
        CircuitOpen("Airalo circuit is open after repeated failures"),
        ProviderMaintenance("operator maintenance"),
        ProviderOutOfStock("out of stock"),
        ProviderNoCredit("not enough credit"),
    ],
)
def test_failover_to_the_next_provider(vendor, airalo, refusal):
    offer(COST[BUNDLE_CODE] - 20)
    airalo.on_create = raising(refusal)
    order = new_order(vendor)
    assert order_provision_attempt(order_id=order.pk).result == "completed"
    order.refresh_from_db()
    assert order.status == "completed" and order.provider == "sandbox"
    assert f"after {refusal.code}" in order.provider_route
    assert order.providers_sent == ["sandbox"]  # Airalo surely bought nothing
    assert sandbox_orders(order.pk) == 1 and airalo.bought == {}


def test_failover_when_the_first_providers_breaker_is_open(vendor, airalo):
    """The real breaker: Airalo's client refuses without a request; the sale goes on."""
    from providers.airalo import AiraloProvider
    from providers.ratelimit import UnlimitedLimiter
    from providers.resilience import build_breaker

    breaker = build_breaker(name="t-routing-airalo", fail_max=1, reset_timeout=600, redis_url="")
    breaker.open()
    client = AiraloProvider(
        client_id="id",
        client_secret="s",
        base_url="https://airalo.invalid/v2",
        breaker=breaker,
        limiter=UnlimitedLimiter(),
        token_limiter=UnlimitedLimiter(),
    )
    offer(COST[BUNDLE_CODE] - 20)
    order = new_order(vendor)
    real = provisioning._provider

    def provider(name: str, livemode: bool):
        return client if name == "airalo" else real(name, livemode)

    with mock.patch.object(provisioning, "_provider", provider):
        assert order_provision_attempt(order_id=order.pk).result == "completed"
    order.refresh_from_db()
    assert order.provider == "sandbox" and sandbox_orders(order.pk) == 1
    assert "after provider_unavailable" in order.provider_route


def test_no_double_purchase_when_the_first_provider_timed_out(vendor, airalo):
    """Airalo bought, but its answer was lost. While Airalo cannot say so, the order
    waits (the sandbox is not tried); once it answers, its order is taken: one purchase."""
    offer(COST[BUNDLE_CODE] - 20)
    airalo.on_create = _buys_then_times_out
    order = new_order(vendor)
    assert order_provision_attempt(order_id=order.pk).result == "retry"
    order.refresh_from_db()
    assert order.providers_sent == ["airalo"] and order.provider_order_sent_at is not None

    airalo.on_find = raising(CircuitOpen("Airalo circuit is open"))
    Order.objects.filter(pk=order.pk).update(provisioning_due_at=None)
    assert order_provision_attempt(order_id=order.pk).result == "retry"
    assert sandbox_orders(order.pk) == 0  # never bought elsewhere while Airalo may have

    assert order_provision_attempt(order_id=order.pk).result == "completed"
    order.refresh_from_db()
    assert (order.status, order.provider, order.provider_reference) == (
        "completed",
        "airalo",
        "air-1",
    )
    assert len(airalo.creates) == 1 and sandbox_orders(order.pk) == 0
    assert airalo.finds == [provider_reference_for(order.pk)] * 2


def test_after_a_timeout_with_nothing_bought_the_next_attempt_may_buy_once(vendor, airalo):
    offer(COST[BUNDLE_CODE] - 20)
    airalo.on_create = raising(ProviderTimeout("Airalo connect timed out", request_sent=False))
    order = new_order(vendor)
    assert order_provision_attempt(order_id=order.pk).result == "retry"
    assert order_provision_attempt(order_id=order.pk).result == "completed"
    order.refresh_from_db()
    assert order.provider == "airalo" and len(airalo.bought) == 1
    assert sandbox_orders(order.pk) == 0


def test_a_topup_goes_to_the_provider_that_issued_the_esim(vendor, airalo):
    """The sandbox is cheaper for the top-up bundle, but the eSIM is Airalo's: Airalo
    applies it, under its own code for our product."""
    from orders.services import topup_order_create
    from providers import TopupResult
    from tests.console.factories import order_row
    from tests.orders.factories import TOPUP_CODE

    BundleOffer.objects.create(
        bundle=Bundle.objects.get(code=TOPUP_CODE),
        provider="airalo",
        provider_code="change-7days-2gb",
        cost_amount=COST[TOPUP_CODE] + 50,
        currency="USD",
    )
    issued = order_row(
        status=Order.Status.COMPLETED, channel=Order.Channel.B2B, vendor=vendor, provider="airalo"
    )
    Esim.objects.create(
        iccid="8944000000000000099",
        order=issued,
        bundle_code=BUNDLE_CODE,
        smdp_address="lpa.airalo.com",
        matching_id="M",
    )
    applied: list[tuple[str, str]] = []

    def apply_topup(*, iccid: str, bundle_code: str, reference: str) -> TopupResult:
        applied.append((iccid, bundle_code))
        return TopupResult("air-topup-1", iccid, bundle_code, "completed")

    airalo.apply_topup = apply_topup  # type: ignore[attr-defined]
    order = topup_order_create(
        target_iccid="8944000000000000099", bundle_code=TOPUP_CODE, vendor=vendor
    )
    assert order_provision_attempt(order_id=order.pk).result == "completed"
    order.refresh_from_db()
    assert applied == [("8944000000000000099", "change-7days-2gb")]
    assert (order.provider, order.provider_reference) == ("airalo", "air-topup-1")


def _admin_client(role: str = "admin"):
    from django.test import Client

    from tests.console.factories import operator

    client = Client()
    client.force_login(operator(role))
    return client


def test_an_operator_drains_and_ranks_a_provider_in_the_admin_audited(vendor, airalo):
    from catalogue.models import ProviderRule
    from ttelgo.models import AuditLog

    offer(COST[BUNDLE_CODE] - 20)  # Airalo has the better margin
    assert [r.provider for r in routes_for(bundle_code=BUNDLE_CODE, livemode=True)] == [
        "airalo",
        "sandbox",
    ]
    client = _admin_client()
    answer = client.post(
        "/admin/catalogue/providerrule/add/",
        {"provider": "airalo", "priority": "", "drained": "on", "note": "incident 42"},
    )
    assert answer.status_code == 302, answer.content[:2000]
    rule = ProviderRule.objects.get(provider="airalo")
    # Drained: no new sale goes to it, without a deploy.
    assert [r.provider for r in routes_for(bundle_code=BUNDLE_CODE, livemode=True)] == ["sandbox"]
    order = new_order(vendor)
    assert order_provision_attempt(order_id=order.pk).result == "completed"
    order.refresh_from_db()
    assert (order.status, order.provider) == ("completed", "sandbox") and not airalo.creates

    sandbox_rule = ProviderRule.objects.create(provider="sandbox", priority=1)
    answer = client.post(
        f"/admin/catalogue/providerrule/{rule.pk}/change/",
        {"priority": "2", "note": "back after incident 42"},
    )
    assert answer.status_code == 302, answer.content[:2000]
    # Back, ranked after the preferred provider despite its better margin.
    assert [(r.provider, r.reason) for r in routes_for(bundle_code=BUNDLE_CODE, livemode=True)] == [
        ("sandbox", "priority"),
        ("airalo", "priority"),
    ]
    sandbox_rule.delete()  # a ranked provider goes before those left to the margin
    assert routes_for(bundle_code=BUNDLE_CODE, livemode=True)[0].provider == "airalo"
    rows = list(AuditLog.objects.filter(action="catalogue.provider_rule_save").order_by("pk"))
    assert [(r.before, r.after["drained"], r.reason) for r in rows] == [
        (None, True, "incident 42"),
        ({"priority": None, "drained": True}, False, "back after incident 42"),
    ]
    history = list(rule.history.order_by("history_id").values_list("drained", "priority"))
    assert history == [(True, None), (False, 2)]
    assert client.get(f"/admin/catalogue/providerrule/{rule.pk}/history/").status_code == 200


def test_only_an_admin_edits_routing(vendor, airalo):
    from catalogue.models import ProviderRule

    answer = _admin_client("support").post(
        "/admin/catalogue/providerrule/add/", {"provider": "airalo", "drained": "on"}
    )
    assert answer.status_code == 403
    assert not ProviderRule.objects.exists()
