"""A parent's own credit limit never drops below what it has granted its postpaid
sub-vendors: the service and the admin refuse it with a clear error. Before, an operator
could lower it to anything, leaving the sub-vendors more credit than the parent had."""

from __future__ import annotations

import pytest
from django.test import Client

from billing.subvendors import sub_vendor_create
from tests.console.factories import operator
from tests.ledger.factories import postpaid, usd
from ttelgo.errors import DomainError
from ttelgo.models import AuditLog
from vendors.models import Vendor
from vendors.operator import operator_vendor_credit_limit

pytestmark = pytest.mark.django_db


def _parent_with_grants() -> Vendor:
    top = postpaid(credit_limit=1_000, status=Vendor.Status.ACTIVE)
    for name, limit in (("A", 300), ("B", 400)):
        sub_vendor_create(parent=top, name=name, billing_mode="postpaid", credit_limit=usd(limit))
    sub_vendor_create(parent=top, name="Prepaid")  # grants nothing
    return top


def test_the_service_refuses_a_limit_below_what_the_parent_granted():
    top = _parent_with_grants()
    with pytest.raises(DomainError) as refused:
        operator_vendor_credit_limit(
            vendor_id=top.pk, actor=operator("finance"), limit=usd(699), reason="risk review"
        )
    assert refused.value.code == "validation_error"
    assert refused.value.details["granted"] == {"amount": "7.00", "currency": "USD"}
    assert "7.00" in refused.value.message
    top.refresh_from_db()
    assert top.credit_limit == 1_000
    # Down to exactly what it granted is fine.
    operator_vendor_credit_limit(
        vendor_id=top.pk, actor=operator("finance"), limit=usd(700), reason="risk review"
    )
    top.refresh_from_db()
    assert top.credit_limit == 700


def test_the_admin_shows_the_refusal_and_changes_nothing():
    top = _parent_with_grants()
    client = Client()
    client.force_login(operator("finance"))
    response = client.post(
        f"/admin/vendors/vendor/{top.pk}/credit-limit/",
        {"credit_limit": "5.00", "reason": "risk review"},
    )
    assert response.status_code == 200  # the form again, with the error
    assert "postpaid sub-vendors" in response.content.decode()
    top.refresh_from_db()
    assert top.credit_limit == 1_000
    assert not AuditLog.objects.filter(
        action="vendor.credit_limit_change", target_id=str(top.pk)
    ).exists()


def test_an_operator_cannot_grant_a_sub_vendor_more_than_its_parent_has_room_for():
    top = _parent_with_grants()  # 10.00 of its own, 7.00 granted
    sub = Vendor.objects.get(parent=top, name="A")  # 3.00 of it
    with pytest.raises(DomainError) as refused:
        operator_vendor_credit_limit(
            vendor_id=sub.pk, actor=operator("finance"), limit=usd(601), reason="bigger line"
        )
    assert refused.value.code == "credit_limit_exceeded"
    assert refused.value.details["available"] == {"amount": "6.00", "currency": "USD"}
    operator_vendor_credit_limit(
        vendor_id=sub.pk, actor=operator("finance"), limit=usd(600), reason="bigger line"
    )
    sub.refresh_from_db()
    assert sub.credit_limit == 600
