"""Stripe API objects as Stripe returns them (trimmed of fields we never read, but with the
real names, nesting and types)."""

from __future__ import annotations

from typing import Any

PI_ID = "pi_3QxKqL2eZvKYlo2C1aBcDeFg"
CHARGE_ID = "ch_3QxKqL2eZvKYlo2C1hIjKlMn"


def payment_intent(
    *,
    id: str = PI_ID,
    status: str = "requires_payment_method",
    amount: int = 1500,
    metadata: dict[str, str] | None = None,
    last_payment_error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": amount if status == "succeeded" else 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": {"allow_redirects": "always", "enabled": True},
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic_async",
        "client_secret": f"{id}_secret_Zx9YwVuTsRqPoNmLkJiH",
        "confirmation_method": "automatic",
        "created": 1763700000,
        "currency": "usd",
        "customer": None,
        "description": None,
        "last_payment_error": last_payment_error,
        "latest_charge": CHARGE_ID if status == "succeeded" else None,
        "livemode": False,
        "metadata": metadata or {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": "pm_1QxKqM2eZvKYlo2CabcdEFGH" if status == "succeeded" else None,
        "payment_method_options": {
            "card": {"installments": None, "network": None, "request_three_d_secure": "automatic"}
        },
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }


def refund(
    *,
    id: str = "re_3QxKqL2eZvKYlo2C1oPqRsTu",
    amount: int = 500,
    payment_intent: str = PI_ID,
    metadata: dict[str, str] | None = None,
    status: str = "succeeded",
) -> dict[str, Any]:
    return {
        "id": id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": "txn_3QxKqL2eZvKYlo2C1vWxYzAb",
        "charge": CHARGE_ID,
        "created": 1763700500,
        "currency": "usd",
        "destination_details": {"card": {"reference_status": "pending", "type": "refund"}},
        "metadata": metadata or {},
        "payment_intent": payment_intent,
        "reason": None,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
    }


def charge(*, amount: int = 1500, amount_refunded: int = 0) -> dict[str, Any]:
    return {
        "id": CHARGE_ID,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "balance_transaction": "txn_3QxKqL2eZvKYlo2C1cDeFgHi",
        "captured": True,
        "created": 1763700100,
        "currency": "usd",
        "disputed": False,
        "livemode": False,
        "metadata": {},
        "paid": True,
        "payment_intent": PI_ID,
        "refunded": amount_refunded >= amount,
        "status": "succeeded",
    }


def dispute(*, reason: str = "fraudulent", amount: int = 1500) -> dict[str, Any]:
    return {
        "id": "dp_1QxKqN2eZvKYlo2CjKlMnOpQ",
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": CHARGE_ID,
        "created": 1763701000,
        "currency": "usd",
        "evidence_details": {
            "due_by": 1764300000,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": PI_ID,
        "reason": reason,
        "status": "needs_response",
    }


def list_of(items: list[dict[str, Any]], url: str) -> dict[str, Any]:
    return {"object": "list", "data": items, "has_more": False, "url": url}


def error(*, code: str, message: str, type: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "type": type}}


def balance_transaction(
    *,
    id: str,
    type: str,
    amount: int,
    fee: int,
    source: dict[str, Any],
    reporting_category: str | None = None,
    created: int = 1763700100,
) -> dict[str, Any]:
    """A balance transaction listed with `expand[]=data.source` (the source inline)."""
    return {
        "id": id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created + 2 * 86400,
        "created": created,
        "currency": "usd",
        "description": None,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": (
            [
                {
                    "amount": fee,
                    "application": None,
                    "currency": "usd",
                    "description": "Stripe processing fees",
                    "type": "stripe_fee",
                }
            ]
            if fee
            else []
        ),
        "net": amount - fee,
        "reporting_category": reporting_category or type,
        "source": source,
        "status": "available",
        "type": type,
    }


def payout(
    *, id: str, amount: int, status: str = "paid", created: int = 1763900000
) -> dict[str, Any]:
    return {
        "id": id,
        "object": "payout",
        "amount": amount,
        "arrival_date": created + 86400,
        "automatic": True,
        "balance_transaction": f"txn_{id}",
        "created": created,
        "currency": "usd",
        "description": "STRIPE PAYOUT",
        "destination": "ba_1QxKqP2eZvKYlo2CbankAcct",
        "failure_code": None,
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "reconciliation_status": "completed",
        "source_type": "card",
        "statement_descriptor": None,
        "status": status,
        "type": "bank_account",
    }
