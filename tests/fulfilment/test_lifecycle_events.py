"""One lifecycle vocabulary for vendors: esim.installed, esim.bundle_started,
esim.usage_threshold at each of the vendor's levels, esim.depleted, esim.expiring (3 days
and 1 day before) and esim.expired, each once per eSIM and level; a top-up re-arms the
usage levels."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from fulfilment.models import Esim
from fulfilment.services import esim_usage_apply, esims_expiry_notify
from tests.orders.factories import TOPUP_CODE
from tests.orders.helpers import buy_b2b, post
from tests.webhooks.factories import events_publish
from vendors.models import Vendor
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def esim(prepaid_vendor, bundles, django_capture_on_commit_callbacks) -> Esim:
    order_id = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks).json()["id"]
    return Esim.objects.get(order_id=order_id)


def _types(vendor: Vendor) -> list[str]:
    events_publish()
    events = WebhookEvent.objects.filter(vendor=vendor, type__startswith="esim.")
    return list(events.order_by("id").values_list("type", flat=True))


def _use(esim: Esim, remaining: int, state: str = "active") -> Esim:
    return esim_usage_apply(
        esim_id=esim.pk, initial_mb=1000, remaining_mb=remaining, unlimited=False, state=state
    )


def test_first_use_levels_and_depletion_fire_once_each(prepaid_vendor, esim):
    vendor = prepaid_vendor.vendor
    Vendor.objects.filter(pk=vendor.pk).update(usage_alert_levels=[25, 75])
    _use(esim, 900)
    _use(esim, 700)  # 30 % used
    _use(esim, 650)  # nothing new
    _use(esim, 0, state="depleted")
    _use(esim, 0, state="depleted")  # nothing new
    assert _types(vendor) == [
        "esim.installed",
        "esim.usage_threshold",
        "esim.usage_threshold",
        "esim.depleted",
    ]
    levels = WebhookEvent.objects.filter(vendor=vendor, type="esim.usage_threshold")
    assert [e.data["percent"] for e in levels.order_by("id")] == [25, 75]


def test_a_topup_rearms_the_usage_levels(prepaid_vendor, esim, django_capture_on_commit_callbacks):
    vendor = prepaid_vendor.vendor
    _use(esim, 0, state="depleted")
    events_publish()
    before = WebhookEvent.objects.filter(vendor=vendor, type="esim.usage_threshold").count()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            prepaid_vendor, f"/api/v1/vendor/esims/{esim.iccid}/topups", {"bundle_code": TOPUP_CODE}
        )
    assert response.status_code == 201, response.content
    esim.refresh_from_db()
    assert not [k for k in esim.events_sent if k.startswith("usage:")]
    _use(esim, 100)  # 90 % of the new figures used
    events_publish()
    after = WebhookEvent.objects.filter(vendor=vendor, type="esim.usage_threshold").count()
    assert after - before == 3  # 50, 80 and 90 again


def test_expiring_fires_at_3_days_and_at_1_day_once_each(prepaid_vendor, esim):
    vendor = prepaid_vendor.vendor
    Esim.objects.filter(pk=esim.pk).update(expires_at=timezone.now() + timedelta(days=5))
    assert esims_expiry_notify() == 0
    with time_machine.travel(timezone.now() + timedelta(days=2, hours=1)):
        assert esims_expiry_notify() == 1
        assert esims_expiry_notify() == 0
    with time_machine.travel(timezone.now() + timedelta(days=4, hours=1)):
        assert esims_expiry_notify() == 1
    events_publish()
    expiring = WebhookEvent.objects.filter(vendor=vendor, type="esim.expiring").order_by("id")
    assert [e.data["days_left"] for e in expiring] == [3, 1]


def test_a_customer_is_emailed_about_data_and_expiry_with_the_page_link(
    bundles, django_capture_on_commit_callbacks
):
    from django.core import mail

    from fulfilment.links import esim_page_token
    from tests.factories import UserFactory
    from tests.orders.factories import customer_client
    from tests.orders.helpers import buy_b2c, pay

    customer = customer_client(UserFactory())
    order = buy_b2c(customer, django_capture_on_commit_callbacks)
    pay(customer, django_capture_on_commit_callbacks, order)
    esim = Esim.objects.get(order_id=order["id"])
    sent_before = len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        _use(esim, 150)  # 85 % used: the 50 and 80 % levels
    lifecycle = mail.outbox[sent_before:]
    assert [m.subject for m in lifecycle] == [
        "You have used 50 % of your eSIM's data",
        "You have used 80 % of your eSIM's data",
    ]
    assert f"/e/{esim_page_token(esim)}" in lifecycle[-1].body
    assert "150 MB left" in lifecycle[-1].body
    Esim.objects.filter(pk=esim.pk).update(expires_at=timezone.now() + timedelta(hours=20))
    with django_capture_on_commit_callbacks(execute=True):
        assert esims_expiry_notify() == 1
    assert mail.outbox[-1].subject == "Your eSIM expires in 1 day"
    assert not WebhookEvent.objects.filter(type__startswith="esim.").exists()  # no vendor


def test_a_revoked_esim_stays_revoked_whatever_usage_the_provider_reports(prepaid_vendor, esim):
    """Revoked is the end of the eSIM's table (fulfilment/state.py): a later usage
    report of the bundle expired or used up changes its figures, not its status, and
    announces no expiry or depletion of an eSIM the vendor was told is revoked."""
    Esim.objects.filter(pk=esim.pk).update(status=Esim.Status.REVOKED)
    _use(esim, 0, state="expired")
    _use(esim, 0, state="depleted")
    esim.refresh_from_db()
    assert esim.status == Esim.Status.REVOKED and esim.usage_state == "depleted"
    assert not {"esim.expired", "esim.depleted"} & set(_types(prepaid_vendor.vendor))
