"""VAT per sale (ttelgo/tax.py), end to end: B2C in three EU countries, B2B with a
validated and an invalid VAT number, a customer outside the EU. For each: the order's
`tax` field, the ledger posting (revenue / tax_payable) and the receipt or invoice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.db.models import Sum
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from billing import invoicing
from billing.invoice_render import invoice_csv, invoice_pdf
from ledger.integrity import ledger_integrity_check
from ledger.models import Entry, Purpose, Transaction
from orders.models import Order
from orders.selectors import tax_report_rows
from sandbox.stripe import sandbox_intent_succeed
from tests.core.money_race_setups import bundles_ensure, customer_client, post_keyed
from tests.factories import UserFactory, VendorFactory
from tests.payments.factories import vendor_client
from ttelgo.money import Money
from ttelgo.tax import EU_VAT_RATES, Buyer, Seller, Treatment, inclusive_tax, tax_for_sale
from vendors.models import Vendor
from vendors.services import vendor_vat_number_set

pytestmark = pytest.mark.django_db
SELLER_VAT = "IE6388047V"


@pytest.fixture(autouse=True)
def _seller(settings):
    settings.PLATFORM_COUNTRY = "IE"
    settings.PLATFORM_VAT_NUMBER = SELLER_VAT
    settings.PLATFORM_LEGAL_NAME = "TTelGo Ltd"
    settings.VAT_VALIDATOR_CLASS = "sandbox.vat.SandboxVatValidator"


def _tax_posted(order_id: int) -> int:
    """What the order's VAT moved into tax_payable (credit, so shown positive)."""
    total = Entry.objects.filter(
        transaction__order_id=order_id, account__purpose=Purpose.TAX_PAYABLE
    ).aggregate(s=Sum("amount"))["s"]
    return -int(total or 0)


def _revenue_posted(order_id: int) -> int:
    total = Entry.objects.filter(
        transaction__order_id=order_id, account__purpose=Purpose.REVENUE
    ).aggregate(s=Sum("amount"))["s"]
    return -int(total or 0)


@pytest.mark.parametrize(
    ("country", "rate", "treatment"),
    [
        ("DE", "19.00", Treatment.STANDARD),
        ("FR", "20.00", Treatment.STANDARD),
        ("FI", "25.50", Treatment.STANDARD),
        ("US", "0.00", Treatment.OUTSIDE_SCOPE),
    ],
)
def test_a_customers_sale_is_taxed_at_their_countrys_rate_in_order_ledger_and_receipt(
    country, rate, treatment, django_capture_on_commit_callbacks
):
    bundles_ensure()
    customer = UserFactory(country=country)
    client = customer_client(customer)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_keyed(
            client, "/api/v1/orders", {"bundle_code": "esim_1GB_7D_GB_V2", "quantity": 1}
        )
    assert response.status_code == 201, response.content
    body = response.json()
    total = Money.from_decimal(body["total"]["amount"], body["total"]["currency"])
    expected = inclusive_tax(total, EU_VAT_RATES.get(country, 0)) if rate != "0.00" else None
    tax = body["tax"]
    assert tax["treatment"] == treatment
    assert tax["rate"] == rate
    assert tax["country"] == country
    assert tax["seller_vat_number"] == SELLER_VAT and tax["buyer_vat_number"] == ""
    assert tax["amount"] == (expected or Money.zero(total.currency)).to_api()

    with django_capture_on_commit_callbacks(execute=True):
        sandbox_intent_succeed(payment_intent_id=body["payment"]["payment_intent_id"])
    order = Order.objects.get(pk=body["id"])
    assert order.status == Order.Status.COMPLETED
    # The sale's revenue is what it brought in net of VAT; the VAT is owed.
    assert _tax_posted(order.pk) == (expected.amount if expected else 0)
    assert _revenue_posted(order.pk) == total.amount - _tax_posted(order.pk)
    assert ledger_integrity_check() == []

    receipt = mail.outbox[-1].body
    assert f"Total paid: {total}" in receipt
    assert f"VAT number {SELLER_VAT}" in receipt
    if expected:
        assert f"of which VAT {rate.rstrip('0').rstrip('.')} % ({country}): {expected}" in receipt
    else:
        assert "of which VAT" not in receipt
        assert "Outside the scope of EU VAT." in receipt


@pytest.mark.parametrize(
    ("vat_number", "valid", "treatment", "taxed"),
    [
        ("NL859048436B01", True, Treatment.REVERSE_CHARGE, False),
        ("NL000000000B00", False, Treatment.STANDARD, True),
    ],
)
def test_a_vendors_sale_is_reverse_charged_only_with_a_validated_vat_number(
    vat_number, valid, treatment, taxed, django_capture_on_commit_callbacks
):
    bundles_ensure()
    with time_machine.travel(datetime(2026, 9, 10, 12, tzinfo=UTC), tick=False):
        vendor = VendorFactory(
            country="NL", billing_mode=Vendor.BillingMode.POSTPAID, credit_limit=1_000_000
        )
        vendor_vat_number_set(vendor=vendor, vat_number=vat_number)
        vendor.refresh_from_db()
        assert vendor.vat_number_valid is valid
        with django_capture_on_commit_callbacks(execute=True):
            response = post_keyed(
                vendor_client(vendor),
                "/api/v1/vendor/orders",
                {"bundle_code": "esim_1GB_7D_GB_V2", "quantity": 1},
            )
        assert response.status_code == 201, response.content
        body = response.json()
    total = Money.from_decimal(body["total"]["amount"], body["total"]["currency"])
    nl = inclusive_tax(total, EU_VAT_RATES["NL"])
    tax = body["tax"]
    assert tax["treatment"] == treatment
    assert tax["buyer_vat_number"] == (vat_number if valid else "")
    assert tax["amount"] == (nl if taxed else Money.zero(total.currency)).to_api()
    order = Order.objects.get(pk=body["id"])
    assert order.status == Order.Status.COMPLETED
    assert _tax_posted(order.pk) == (nl.amount if taxed else 0)
    assert _revenue_posted(order.pk) == total.amount - _tax_posted(order.pk)
    assert ledger_integrity_check() == []

    with time_machine.travel(datetime(2026, 10, 2, 12, tzinfo=UTC), tick=False):
        invoice = invoicing.invoice_close_month(vendor=vendor, year=2026, month=9)
    assert invoice.total == total.amount
    assert invoice.tax_amount == (nl.amount if taxed else 0)
    assert invoice.seller_vat_number == SELLER_VAT
    assert invoice.buyer_vat_number == (vat_number if valid else "")
    csv_text = invoice_csv(invoice=invoice)
    pdf = invoice_pdf(invoice=invoice)
    assert pdf.startswith(b"%PDF")
    if taxed:
        assert f"of which VAT,,,,{nl.to_api()['amount']},USD" in csv_text
        assert invoice.tax_note == ""
    else:
        assert "of which VAT" not in csv_text
        assert invoice.tax_note.startswith("Reverse charge")

    rows = tax_report_rows(
        start=datetime(2026, 9, 1, tzinfo=UTC), end=datetime(2026, 10, 1, tzinfo=UTC)
    )
    assert rows == [
        {
            "country": "NL",
            "treatment": treatment,
            "currency": "USD",
            "orders": 1,
            "gross": total.amount,
            "net": total.amount - (nl.amount if taxed else 0),
            "vat": nl.amount if taxed else 0,
        }
    ]


def test_a_refunded_taxed_sale_owes_no_vat(django_capture_on_commit_callbacks):
    from payments.services import payment_refund_for_order

    bundles_ensure()
    client = customer_client(UserFactory(country="DE"))
    with django_capture_on_commit_callbacks(execute=True):
        body = post_keyed(
            client, "/api/v1/orders", {"bundle_code": "esim_1GB_7D_GB_V2", "quantity": 1}
        ).json()
        sandbox_intent_succeed(payment_intent_id=body["payment"]["payment_intent_id"])
    assert _tax_posted(body["id"]) > 0
    with django_capture_on_commit_callbacks(execute=True):
        payment_refund_for_order(order_id=body["id"], reason="customer asked")
    assert Order.objects.get(pk=body["id"]).status == Order.Status.REFUNDED
    assert _tax_posted(body["id"]) == 0
    assert Transaction.objects.filter(reference=f"order:{body['id']}:tax:refunded").count() == 1


@pytest.mark.parametrize(
    ("buyer", "treatment", "country", "rate_bp"),
    [
        (Buyer("DE"), Treatment.STANDARD, "DE", 1900),
        (Buyer("NL", "859048436B01", True), Treatment.REVERSE_CHARGE, "NL", 0),
        (Buyer("NL", "859048436B01", False), Treatment.STANDARD, "NL", 2100),
        # A business in our own country is charged our VAT: no reverse charge at home.
        (Buyer("IE", "1234567T", True), Treatment.STANDARD, "IE", 2300),
        (Buyer("CH"), Treatment.OUTSIDE_SCOPE, "CH", 0),
        (Buyer(""), Treatment.STANDARD, "IE", 2300),  # unknown: the seller's country
    ],
)
def test_the_rules(buyer, treatment, country, rate_bp):
    line = tax_for_sale(
        total=Money(1210, "EUR"), buyer=buyer, seller_=Seller("IE", SELLER_VAT, "TTelGo")
    )
    assert (line.treatment, line.country, line.rate_bp) == (treatment, country, rate_bp)
    assert line.tax + line.net == Money(1210, "EUR")


def test_no_seller_registration_no_tax():
    line = tax_for_sale(total=Money(1000, "USD"), buyer=Buyer("DE"), seller_=Seller("", "", ""))
    assert line.treatment == Treatment.NONE and line.tax == Money(0, "USD")


# --- refunds in part, B2C and B2B: the VAT given back in proportion ---------------------


def _tax_reversed(order_id: int) -> list[int]:
    """What each of the order's VAT reversals gave back, in order."""
    return [
        int(e.amount)
        for e in Entry.objects.filter(
            transaction__order_id=order_id,
            account__purpose=Purpose.TAX_PAYABLE,
            amount__gt=0,
        ).order_by("id")
    ]


@pytest.mark.parametrize("country", ["DE", "FR", "FI"])
def test_partial_refunds_of_a_customers_sale_give_back_its_vat_in_proportion(
    country, django_capture_on_commit_callbacks
):
    from payments.services import payment_refund_for_order

    bundles_ensure()
    client = customer_client(UserFactory(country=country))
    with django_capture_on_commit_callbacks(execute=True):
        body = post_keyed(
            client, "/api/v1/orders", {"bundle_code": "esim_1GB_7D_GB_V2", "quantity": 1}
        ).json()
        sandbox_intent_succeed(payment_intent_id=body["payment"]["payment_intent_id"])
    order = Order.objects.get(pk=body["id"])
    tax = _tax_posted(order.pk)
    assert tax == order.tax_amount > 0
    # Three odd thirds, then the rest: each refund gives back its share of the VAT, half
    # up on the running total, and the parts add up to the VAT exactly.
    parts = [order.total // 3 + 1, order.total // 7, 1]
    refunded = 0
    for part in parts:
        with django_capture_on_commit_callbacks(execute=True):
            payment_refund_for_order(
                order_id=order.pk, amount=Money(part, order.currency), reason="partly"
            )
        refunded += part
        given = sum(_tax_reversed(order.pk))
        assert given == (2 * tax * refunded + order.total) // (2 * order.total)
        assert given <= tax
        assert _tax_posted(order.pk) == tax - given
        assert Order.objects.get(pk=order.pk).status == Order.Status.COMPLETED
    with django_capture_on_commit_callbacks(execute=True):
        payment_refund_for_order(order_id=order.pk, reason="the rest")
    assert Order.objects.get(pk=order.pk).status == Order.Status.REFUNDED
    assert sum(_tax_reversed(order.pk)) == tax
    assert _tax_posted(order.pk) == 0
    assert Transaction.objects.filter(reference=f"order:{order.pk}:tax:refunded").count() == 1
    assert ledger_integrity_check() == []


@pytest.mark.parametrize(
    ("vat_number", "valid", "taxed"),
    [("NL859048436B01", True, False), ("NL000000000B00", False, True)],
)
def test_a_vendors_partial_refund_gives_back_its_vat_and_credits_the_next_invoice(
    vat_number, valid, taxed, django_capture_on_commit_callbacks
):
    from fulfilment.refunds import order_vendor_refund

    bundles_ensure()
    with time_machine.travel(datetime(2026, 9, 10, 12, tzinfo=UTC), tick=False):
        vendor = VendorFactory(
            country="NL", billing_mode=Vendor.BillingMode.POSTPAID, credit_limit=1_000_000
        )
        vendor_vat_number_set(vendor=vendor, vat_number=vat_number)
        with django_capture_on_commit_callbacks(execute=True):
            body = post_keyed(
                vendor_client(vendor),
                "/api/v1/vendor/orders",
                {"bundle_code": "esim_1GB_7D_GB_V2", "quantity": 1},
            ).json()
    order = Order.objects.get(pk=body["id"])
    tax = _tax_posted(order.pk)
    assert tax == (order.tax_amount if taxed else 0)
    with time_machine.travel(datetime(2026, 10, 2, 12, tzinfo=UTC), tick=False):
        september = invoicing.invoice_close_month(vendor=vendor, year=2026, month=9)
        part = order.total * 2 // 5
        with django_capture_on_commit_callbacks(execute=True):
            order_vendor_refund(
                order_id=order.pk, amount=Money(part, order.currency), reason="partly"
            )
    assert september.tax_amount == tax
    given = sum(_tax_reversed(order.pk))
    assert given == (2 * tax * part + order.total) // (2 * order.total)
    assert _tax_posted(order.pk) == tax - given
    assert ledger_integrity_check() == []
    # The closed September invoice stays as it was; October's carries the refund as a
    # credit with the VAT it gives back.
    with time_machine.travel(datetime(2026, 11, 2, 12, tzinfo=UTC), tick=False):
        october = invoicing.invoice_close_month(vendor=vendor, year=2026, month=10)
    september.refresh_from_db()
    assert september.tax_amount == tax and september.total == order.total
    assert october.total == -part
    assert october.tax_amount == -given
    if taxed:
        assert f"of which VAT,,,,{Money(-given, order.currency).to_api()['amount']}" in (
            invoice_csv(invoice=october)
        )


@given(
    total=st.integers(min_value=1, max_value=10**9),
    rate_bp=st.sampled_from(sorted(set(EU_VAT_RATES.values()))),
    cuts=st.lists(st.integers(min_value=1, max_value=10**9), max_size=8),
)
@hsettings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_vat_given_back_never_drifts_over_any_split_of_refunds(total, rate_bp, cuts):
    """Whatever the split of a sale's refunds, each gives back a non-negative part of the
    VAT, the parts never exceed it, and a refund in full gives it back exactly."""
    from orders.services import order_tax_refund_due

    tax = inclusive_tax(Money(total, "EUR"), rate_bp).amount
    refunded, given = 0, 0
    for cut in [*cuts, total]:
        refunded = min(total, refunded + cut)
        due = order_tax_refund_due(tax=tax, total=total, refunded=refunded)
        assert due >= given and due <= tax
        given = due
    assert given == tax
