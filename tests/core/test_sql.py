"""The hand-written statements of ttelgo/sql.py write and read exactly what the ORM would,
on the database the suite runs on (PostgreSQL under `make test`, SQLite under test-fast)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from catalogue.models import Bundle
from orders.models import Order, OrderEvent
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import BUNDLE_CODE, bundles_create
from ttelgo import sql
from ttelgo.models import IdempotencyKey
from vendors.models import Vendor

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def _order(vendor: Vendor, **extra) -> Order:
    values = {
        "kind": Order.Kind.TOPUP,
        "channel": Order.Channel.B2B,
        "vendor": vendor,
        "status": Order.Status.IN_REVIEW,
        "currency": "USD",
        "total": 1234,
        "cost_total": 999,
        "target_iccid": "8944000000000000001",
        "review_reasons": ["velocity: 3 orders in 1 hour", {"nested": [1, None, "ü"]}],
        "client_ip": "2001:db8::1",
        "disputed_at": timezone.now() - timedelta(days=2),
    }
    values.update(extra)
    return Order(**values)


def test_an_insert_writes_what_the_orm_reads_back_field_for_field():
    vendor = VendorFactory()
    order = sql.insert(_order(vendor))
    assert order.pk is not None and not order._state.adding
    stored = Order.objects.get(pk=order.pk)
    assert _fields(stored) == _fields(order)
    assert stored.updated_at - stored.created_at < timedelta(seconds=1)  # auto_now(_add) set


def test_an_insert_applies_field_defaults_and_nulls():
    vendor = VendorFactory()
    order = sql.insert(
        Order(
            channel=Order.Channel.B2B, vendor=vendor, status="provisioning", currency="EUR", total=0
        )
    )
    stored = Order.objects.get(pk=order.pk)
    assert (stored.kind, stored.cost_total, stored.review_reasons) == ("esim", 0, [])
    assert stored.client_ip is None and stored.customer_id is None


def test_a_select_builds_the_same_instances_as_the_orm():
    vendor = VendorFactory()
    bundles_create()
    orm_order = _order(vendor)
    orm_order.save()
    (order,) = sql.select([(Order, "o")], "WHERE o.id = %s", [orm_order.pk])[0]
    assert isinstance(order, Order) and not order._state.adding
    assert _fields(order) == _fields(Order.objects.get(pk=orm_order.pk))
    bundle = sql.select_one([(Bundle, "b")], "WHERE b.code = %s", [BUNDLE_CODE])
    assert _fields(bundle) == _fields(Bundle.objects.get(code=BUNDLE_CODE))
    assert isinstance(bundle.is_active, bool) and bundle.region_id is None


def test_a_select_of_two_sources_returns_both_instances_per_row():
    vendor = VendorFactory(name="Two Sources Ltd")
    order = sql.insert(_order(vendor))
    row = sql.select_one(
        [(Order, "o"), (Vendor, "v")],
        f"JOIN {sql.table(Vendor)} v ON v.id = o.vendor_id WHERE o.id = %s",
        [order.pk],
    )
    got_order, got_vendor = row
    assert got_order.pk == order.pk and got_vendor.pk == vendor.pk
    assert _fields(got_vendor) == _fields(Vendor.objects.get(pk=vendor.pk))
    assert sql.select_one([(Order, "o")], "WHERE o.id = %s", [-1]) is None


def test_insert_or_skip_leaves_the_first_row_and_the_transaction_usable():
    first = IdempotencyKey(scope="s", key="k", method="POST", path="/x", fingerprint="a")
    first.locked_at = timezone.now()
    assert sql.insert_or_skip(first) is True
    twin = IdempotencyKey(scope="s", key="k", method="POST", path="/y", fingerprint="b")
    twin.locked_at = timezone.now()
    with transaction.atomic():
        assert sql.insert_or_skip(twin) is False
        assert twin.pk is None
        assert IdempotencyKey.objects.get(scope="s", key="k").fingerprint == "a"  # still usable


def test_update_matches_like_filter_update_including_null():
    vendor = VendorFactory()
    a = sql.insert(_order(vendor, client_ip=None))
    b = sql.insert(_order(vendor))
    changed = sql.update(
        Order, where={"client_ip": None, "vendor": vendor.pk}, review_reasons=[], total=5
    )
    assert changed == 1
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.total, a.review_reasons) == (5, [])
    assert (b.total, b.review_reasons[0]) == (1234, "velocity: 3 orders in 1 hour")
    assert sql.update(Order, where={"pk": b.pk, "status": "completed"}, total=1) == 0


def test_an_event_insert_keeps_its_actor_foreign_key():
    user = UserFactory()
    order = sql.insert(_order(VendorFactory()))
    event = sql.insert(
        OrderEvent(order=order, from_status="", to_status="x", actor=user, actor_label="a")
    )
    assert OrderEvent.objects.get(pk=event.pk).actor_id == user.pk
