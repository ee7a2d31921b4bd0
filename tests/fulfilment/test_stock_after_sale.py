"""After a sale from stock: the eSIM a vendor bought from stock is handled afterwards
(refund, revocation, usage, top-ups) by the provider that issued it, its money comes back
once and the eSIM never goes back to stock."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from fulfilment.routing import esim_provider
from fulfilment.stock.models import StockEsim
from ledger.models import Purpose
from ledger.services import stock_purchase_record
from tests.factories import VendorFactory
from tests.fulfilment.stock_helpers import stock_esims, stock_setting
from tests.fulfilment.test_stock_sale import COST, balance, order_via_api
from tests.orders.factories import BUNDLE_CODE, bundles_create, fund, vendor_client
from tests.orders.helpers import assert_ledger_sound, post
from ttelgo.money import Money

pytestmark = pytest.mark.django_db


@pytest.fixture
def vendor_api(db):
    bundles_create()
    vendor = VendorFactory(currency="USD")
    fund(vendor, 100_000)
    return vendor_client(vendor)


def test_a_stock_esim_bought_from_another_provider_is_refunded_at_that_provider(
    vendor_api, settings
):
    # Stock was bought from the bundle's best route, here not the default provider.
    settings.ESIM_PROVIDER = "sandbox"
    settings.ESIM_PROVIDERS = ["sandbox", "airalo"]
    stock_setting()
    [row] = stock_esims(1, cost=COST)
    StockEsim.objects.filter(pk=row.pk).update(provider="airalo")
    stock_purchase_record(cost=Money(COST, "USD"), reference="stock-test:airalo")
    body = order_via_api(vendor_api).json()
    assert body["status"] == "completed"
    iccid = body["esims"][0]["iccid"]
    assert iccid == row.iccid
    # Usage, top-ups and refunds of the eSIM go to the provider that issued it.
    assert esim_provider(iccid) == "airalo"

    client = mock.Mock()
    with mock.patch("fulfilment.revocation.get_provider", return_value=client) as get:
        response = post(
            vendor_api, f"/api/v1/vendor/esims/{iccid}/refund", {"reason": "not travelling"}
        )
    assert response.status_code == 201, response.content
    assert get.call_args.kwargs.get("name") == "airalo"
    client.revoke_bundle.assert_called_once()
    # Money back once: the cost left cost of sales for the refund receivable, stock is
    # not refilled by it and the eSIM stays sold.
    assert balance(Purpose.COGS) == 0
    assert balance(Purpose.PROVIDER_REFUND_RECEIVABLE) == COST
    assert balance(Purpose.INVENTORY) == 0
    assert StockEsim.objects.get(pk=row.pk).status == StockEsim.Status.SOLD
    assert_ledger_sound()


def test_stock_being_given_back_is_still_inventory_for_reconciliation(vendor_api, settings):
    """An eSIM marked for giving back (an operator's release, the ageing mark, or one an
    outage left `revoking` for the next run) keeps its cost in inventory until the
    provider settles it: reconciliation sees no difference meanwhile."""
    from fulfilment.stock.ageing import stock_ageing_mark
    from reconciliation.services import reconciliation_run
    from tests.fulfilment.test_stock_sale import _bought_at_sandbox, _codes

    rows = _bought_at_sandbox(2)
    StockEsim.objects.filter(pk=rows[0].pk).update(purchased_at=timezone.now() - timedelta(days=90))
    assert stock_ageing_mark() == 1
    assert balance(Purpose.INVENTORY) == 2 * COST
    assert _codes(reconciliation_run()) == []


@pytest.mark.parametrize("quantity", [0, -1, 10**20, 1.5, "x", None, True])
def test_a_bad_quantity_is_refused_and_takes_nothing_from_stock(vendor_api, quantity):
    stock_setting()
    stock_esims(3, cost=COST)
    response = post(
        vendor_api, "/api/v1/vendor/orders", {"bundle_code": BUNDLE_CODE, "quantity": quantity}
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert StockEsim.objects.filter(status=StockEsim.Status.AVAILABLE).count() == 3
