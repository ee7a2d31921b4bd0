"""Money in the portal: card top-ups of the wallet, card payments of invoices, test
mode's card confirmations; behind the member's role (owner, admin and finance manage
money) and the member's vendor (another vendor's payment or invoice is not found)."""

from __future__ import annotations

from billing.models import Invoice
from payments.gateways import gateway_backend
from payments.models import Payment
from payments.services import payment_create_for_invoice, payment_create_for_wallet_topup
from sandbox.stripe import sandbox_intent_fail, sandbox_intent_succeed
from ttelgo.errors import DomainError
from ttelgo.money import Money
from vendors.members import member_require
from vendors.models import VendorUser


def member_wallet_topup(*, member: VendorUser, amount: Money) -> Payment:
    member_require(member, "billing.manage")
    return payment_create_for_wallet_topup(vendor=member.vendor, amount=amount)


def member_invoice_pay(*, member: VendorUser, invoice_id: int) -> Payment:
    member_require(member, "billing.manage")
    return payment_create_for_invoice(vendor=member.vendor, invoice_id=invoice_id)


def member_payment_get(*, member: VendorUser, payment_id: int) -> Payment:
    member_require(member, "view")
    payment = Payment.objects.filter(pk=payment_id, vendor=member.vendor).first()
    if payment is None:
        raise DomainError("not_found", "Payment not found.")
    return payment


def member_invoice_get(*, member: VendorUser, invoice_id: int) -> Invoice:
    member_require(member, "view")
    invoice = Invoice.objects.filter(pk=invoice_id, vendor=member.vendor).first()
    if invoice is None:
        raise DomainError("not_found", "Invoice not found.")
    return invoice


def member_test_payment_confirm(*, member: VendorUser, payment_id: int, succeed: bool) -> Payment:
    """The test card's answer for a payment at the sandbox gateway (test mode's, or every
    payment where the sandbox is the gateway): paid, or declined."""
    member_require(member, "billing.manage")
    payment = member_payment_get(member=member, payment_id=payment_id)
    if payment.livemode and not payment_at_sandbox(payment):
        raise DomainError("invalid_state", "Only a test payment takes a test card.")
    if payment.status not in (Payment.Status.PENDING, Payment.Status.FAILED):
        raise DomainError(
            "invalid_state", f"The payment is {payment.status}.", details={"status": payment.status}
        )
    if succeed:
        sandbox_intent_succeed(payment_intent_id=payment.payment_intent_id)
    else:
        sandbox_intent_fail(payment_intent_id=payment.payment_intent_id)
    payment.refresh_from_db()
    return payment


def payment_at_sandbox(payment: Payment) -> bool:
    return gateway_backend(payment.livemode) == "sandbox"
