"""Ready stock: the operators' levels are validated (the form, the database), and a sale
from stock takes whole orders, oldest eSIMs first, only of stocked bundles in the order's
own mode, and only inside the order's transaction."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin import site
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from catalogue.models import Bundle
from fulfilment.models import Esim
from fulfilment.stock.admin import StockSettingAdmin
from fulfilment.stock.models import StockEsim, StockSetting
from fulfilment.stock.operator import operator_stock_setting_save
from fulfilment.stock.services import stock_esims_take
from orders.models import Order
from tests.console.factories import operator, order_row
from tests.fulfilment.stock_helpers import stock_esims, stock_setting
from tests.orders.factories import BUNDLE_CODE, COST
from ttelgo.errors import DomainError
from ttelgo.models import AuditLog

pytestmark = pytest.mark.django_db


def _setting(**fields: int | bool) -> StockSetting:
    values: dict[str, int | bool] = {"floor": 5, "target": 20, "capital_cap": 100_000}
    values.update(fields)
    return StockSetting(bundle=Bundle.objects.get(code=BUNDLE_CODE), **values)


# --- settings ------------------------------------------------------------------------------


def test_a_sound_setting_is_valid(bundles):
    _setting().full_clean()
    _setting(floor=0, target=1, capital_cap=COST[BUNDLE_CODE]).full_clean()  # cap exactly met


def test_a_target_below_the_floor_is_refused_on_the_target(bundles):
    with pytest.raises(ValidationError) as refused:
        _setting(floor=10, target=9).full_clean()
    assert refused.value.message_dict == {"target": ["The target (9) is below the floor (10)."]}


def test_a_target_of_zero_is_refused(bundles):
    with pytest.raises(ValidationError) as refused:
        _setting(floor=0, target=0).full_clean()
    assert "target" in refused.value.message_dict


def test_a_target_that_would_cost_more_than_the_cap_is_refused_on_the_cap(bundles):
    # 20 eSIMs at 1.39 USD cost 27.80 USD.
    with pytest.raises(ValidationError) as refused:
        _setting(target=20, capital_cap=2779).full_clean()
    assert refused.value.message_dict == {
        "capital_cap": ["20 eSIMs at 1.39 USD cost 27.80 USD, above the cap of 27.79 USD."]
    }


def test_a_negative_cap_is_refused(bundles):
    with pytest.raises(ValidationError) as refused:
        _setting(capital_cap=-1).full_clean()
    assert "capital_cap" in refused.value.message_dict


def test_one_setting_per_bundle_and_mode(bundles):
    stock_setting(livemode=True)
    stock_setting(livemode=False)  # test mode has its own
    with pytest.raises(ValidationError):
        _setting(livemode=True).full_clean()


def test_the_database_holds_target_at_or_above_floor_whatever_skips_validation(bundles):
    with pytest.raises(IntegrityError), transaction.atomic():
        _setting(floor=10, target=9).save()


def test_an_operator_saves_a_setting_validated_and_audited(bundles):
    admin = operator("admin")
    saved = operator_stock_setting_save(
        setting=_setting(), actor=admin, changed=["floor", "target"]
    )
    assert StockSetting.objects.get(pk=saved.pk).target == 20
    audit = AuditLog.objects.get(action="fulfilment.stock_setting_save")
    assert audit.after == {"floor": 5, "target": 20}
    with pytest.raises(ValidationError):
        operator_stock_setting_save(setting=_setting(floor=30), actor=admin, changed=[])
    assert StockSetting.objects.count() == 1


def test_support_may_not_change_stock_levels(bundles):
    with pytest.raises(DomainError) as refused:
        operator_stock_setting_save(setting=_setting(), actor=operator("support"), changed=[])
    assert refused.value.code == "permission_denied"
    assert not StockSetting.objects.exists()


# --- taking from stock (one connection; the race is test_stock_take_race.py) --------------


def _order(quantity: int = 1, **fields: Any) -> Order:
    return order_row(status=Order.Status.PROVISIONING, total=450, quantity=quantity, **fields)


def test_an_order_of_a_stocked_bundle_takes_the_oldest_esims(bundles):
    stock_setting()
    rows = stock_esims(4)
    order = _order(quantity=2)
    with transaction.atomic():
        taken = stock_esims_take(order=order)
    assert taken is not None
    assert [e.iccid for e in taken.esims] == [rows[0].iccid, rows[1].iccid]
    assert taken.cost.amount == 2 * 139 and taken.cost.currency == "USD"
    esim = Esim.objects.get(iccid=rows[0].iccid)
    assert (esim.order_id, esim.livemode, esim.status) == (order.pk, True, Esim.Status.RELEASED)
    assert (esim.smdp_address, esim.matching_id) == (rows[0].smdp_address, rows[0].matching_id)
    assert esim.initial_mb == esim.remaining_mb == 1000
    assert esim.expires_at is not None
    assert list(StockEsim.objects.values_list("status", flat=True)) == [
        "sold",
        "sold",
        "available",
        "available",
    ]
    assert StockEsim.objects.get(iccid=rows[0].iccid).esim == esim


def test_too_little_stock_takes_nothing(bundles):
    stock_setting()
    stock_esims(2)
    with transaction.atomic():
        assert stock_esims_take(order=_order(quantity=3)) is None
    assert StockEsim.objects.filter(status="available").count() == 2
    assert not Esim.objects.exists()


def test_empty_stock_takes_nothing(bundles):
    stock_setting()
    with transaction.atomic():
        assert stock_esims_take(order=_order()) is None


def test_an_unstocked_or_disabled_bundle_takes_nothing(bundles):
    stock_esims(3)
    with transaction.atomic():
        assert stock_esims_take(order=_order()) is None  # no setting
    stock_setting(enabled=False)
    with transaction.atomic():
        assert stock_esims_take(order=_order()) is None
    assert StockEsim.objects.filter(status="available").count() == 3


def test_whether_a_bundle_is_stocked_is_cached_and_follows_every_setting_change(bundles):
    """The sale's check costs no query while the cached set lives, and an operator's
    change (enable, disable, delete) is seen by the next order."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from fulfilment.stock.services import stock_enabled

    assert stock_enabled(bundle_code=BUNDLE_CODE, livemode=True) is False
    setting = stock_setting()
    assert stock_enabled(bundle_code=BUNDLE_CODE, livemode=True) is True
    with CaptureQueriesContext(connection) as ctx:
        assert stock_enabled(bundle_code=BUNDLE_CODE, livemode=True) is True
        assert stock_enabled(bundle_code=BUNDLE_CODE, livemode=False) is False
    assert len(ctx.captured_queries) == 0
    setting.enabled = False
    setting.save()
    assert stock_enabled(bundle_code=BUNDLE_CODE, livemode=True) is False
    setting.enabled = True
    setting.save()
    assert stock_enabled(bundle_code=BUNDLE_CODE, livemode=True) is True
    setting.delete()
    assert stock_enabled(bundle_code=BUNDLE_CODE, livemode=True) is False


def test_test_mode_orders_take_test_stock_only(bundles):
    stock_setting(livemode=True)
    stock_setting(livemode=False)
    live = stock_esims(1, livemode=True)
    test = stock_esims(1, livemode=False)
    with transaction.atomic():
        taken = stock_esims_take(order=_order(livemode=False))
    assert taken is not None
    assert [e.iccid for e in taken.esims] == [test[0].iccid]
    assert taken.esims[0].livemode is False
    assert StockEsim.objects.get(pk=live[0].pk).status == "available"


def test_an_order_that_has_its_esims_takes_no_more(bundles):
    stock_setting()
    stock_esims(2)
    order = _order()
    with transaction.atomic():
        assert stock_esims_take(order=order) is not None
    with transaction.atomic():
        assert stock_esims_take(order=order) is None
    assert StockEsim.objects.filter(status="available").count() == 1


def test_a_top_up_order_never_takes_stock(bundles):
    stock_setting()
    stock_esims(1)
    with transaction.atomic():
        assert (
            stock_esims_take(
                order=_order(kind=Order.Kind.TOPUP, target_iccid="8944000000000000001")
            )
            is None
        )


@pytest.mark.django_db(transaction=True)
def test_taking_outside_the_order_transaction_is_refused(bundles):
    stock_setting()
    stock_esims(1)
    with pytest.raises(RuntimeError):
        stock_esims_take(order=_order())
    assert StockEsim.objects.filter(status="available").count() == 1


def test_an_order_rolled_back_after_taking_leaves_its_esims_in_stock(bundles):
    stock_setting()
    stock_esims(1)
    order = _order()
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        assert stock_esims_take(order=order) is not None
        1 / 0  # noqa: B018
    assert StockEsim.objects.get().status == "available"
    assert not Esim.objects.exists()


def test_a_sold_stock_esim_always_names_its_esim(bundles):
    row = stock_esims(1)[0]
    with pytest.raises(IntegrityError), transaction.atomic():
        StockEsim.objects.filter(pk=row.pk).update(status="sold")


def test_the_console_lists_each_setting_with_its_free_stock(bundles, client):
    stock_setting(livemode=True)
    stock_setting(livemode=False)
    rows = stock_esims(3)
    stock_esims(1, livemode=False)
    with transaction.atomic():
        stock_esims_take(order=_order())
    client.force_login(operator("admin"))
    page = client.get("/admin/fulfilment/stocksetting/")
    assert page.status_code == 200
    admin_page = StockSettingAdmin(StockSetting, site)
    levels = {
        s.livemode: admin_page.available(s) for s in admin_page.get_queryset(page.wsgi_request)
    }
    assert levels == {True: 2, False: 1}
    assert StockEsim.objects.get(iccid=rows[0].iccid).status == "sold"
