"""StripeGateway against `responses`: the requests we send (path, form parameters,
metadata, Idempotency-Key, API version) and how Stripe's JSON is read back."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
import responses

from payments.gateways import GatewayError, get_gateway
from payments.gateways.stripe import STRIPE_API_VERSION, StripeGateway
from tests.payments import stripe_shapes as shapes
from ttelgo.money import Money

BASE = "https://stripe.test"


@pytest.fixture(autouse=True)
def _stripe_backend(settings):
    settings.PAYMENTS_BACKEND = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_suite_only"
    settings.STRIPE_API_BASE = BASE


def _form(call: responses.Call) -> dict[str, list[str]]:
    body = call.request.body
    text = body.decode() if isinstance(body, bytes) else (body or "")
    return parse_qs(text)


@responses.activate
def test_create_payment_intent_sends_amount_metadata_and_idempotency_key():
    responses.post(
        f"{BASE}/v1/payment_intents",
        json=shapes.payment_intent(metadata={"kind": "order", "order_id": "42"}),
    )
    gateway = get_gateway()
    assert isinstance(gateway, StripeGateway)

    intent = gateway.create_payment_intent(
        amount=Money(1500, "USD"),
        metadata={"kind": "order", "order_id": "42"},
        idempotency_key="order:42:payment_intent",
    )

    call = responses.calls[0]
    assert call.request.headers["Idempotency-Key"] == "order:42:payment_intent"
    assert call.request.headers["Stripe-Version"] == STRIPE_API_VERSION
    assert call.request.headers["Authorization"] == "Bearer sk_test_suite_only"
    assert _form(call) == {
        "amount": ["1500"],
        "currency": ["usd"],
        "metadata[kind]": ["order"],
        "metadata[order_id]": ["42"],
        "automatic_payment_methods[enabled]": ["true"],
    }
    assert intent.id == shapes.PI_ID
    assert intent.client_secret == f"{shapes.PI_ID}_secret_Zx9YwVuTsRqPoNmLkJiH"
    assert (intent.status, intent.amount, intent.currency) == (
        "requires_payment_method",
        1500,
        "USD",
    )
    assert intent.metadata == {"kind": "order", "order_id": "42"}


@responses.activate
def test_retrieve_reads_status_charge_and_decline_message():
    declined = shapes.payment_intent(
        last_payment_error={
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
            "type": "card_error",
        }
    )
    responses.get(f"{BASE}/v1/payment_intents/{shapes.PI_ID}", json=declined)
    intent = get_gateway().retrieve_payment_intent(shapes.PI_ID)
    assert intent.status == "requires_payment_method"
    assert intent.failure_message == "Your card has insufficient funds."
    assert intent.latest_charge is None


@responses.activate
def test_cancel_sends_idempotency_key_and_maps_unexpected_state():
    url = f"{BASE}/v1/payment_intents/{shapes.PI_ID}/cancel"
    responses.post(url, json=shapes.payment_intent(status="canceled"))
    intent = get_gateway().cancel_payment_intent(shapes.PI_ID, idempotency_key="payment:ab:cancel")
    assert intent.status == "canceled"
    assert responses.calls[0].request.headers["Idempotency-Key"] == "payment:ab:cancel"

    responses.replace(
        responses.POST,
        url,
        status=400,
        json=shapes.error(
            code="payment_intent_unexpected_state",
            message="You cannot cancel this PaymentIntent because it has a status of succeeded.",
        ),
    )
    with pytest.raises(GatewayError) as exc:
        get_gateway().cancel_payment_intent(shapes.PI_ID, idempotency_key="payment:ab:cancel2")
    assert exc.value.state_conflict is True
    assert exc.value.code == "payment_intent_unexpected_state"


@responses.activate
def test_partial_refund_sends_amount_reason_metadata_and_idempotency_key():
    responses.post(
        f"{BASE}/v1/refunds",
        json=shapes.refund(amount=500, metadata={"refund_id": "7", "reason": "duplicate"}),
    )
    result = get_gateway().refund(
        payment_intent_id=shapes.PI_ID,
        amount=Money(500, "USD"),
        idempotency_key="refund:7",
        reason="duplicate",
        metadata={"refund_id": "7"},
    )
    call = responses.calls[0]
    assert call.request.headers["Idempotency-Key"] == "refund:7"
    assert _form(call) == {
        "payment_intent": [shapes.PI_ID],
        "amount": ["500"],
        "reason": ["duplicate"],
        "metadata[refund_id]": ["7"],
        "metadata[reason]": ["duplicate"],
    }
    assert (result.id, result.amount, result.currency, result.status) == (
        "re_3QxKqL2eZvKYlo2C1oPqRsTu",
        500,
        "USD",
        "succeeded",
    )
    assert result.payment_intent_id == shapes.PI_ID


@responses.activate
def test_full_refund_omits_amount_and_free_text_reason_goes_to_metadata():
    responses.post(f"{BASE}/v1/refunds", json=shapes.refund(amount=1500))
    get_gateway().refund(
        payment_intent_id=shapes.PI_ID,
        amount=None,
        idempotency_key="refund:8",
        reason="provisioning failed",
    )
    form = _form(responses.calls[0])
    assert "amount" not in form
    assert "reason" not in form  # Stripe accepts only its three reasons
    assert form["metadata[reason]"] == ["provisioning failed"]


@responses.activate
def test_refund_errors_become_gateway_errors():
    responses.post(
        f"{BASE}/v1/refunds",
        status=400,
        json=shapes.error(
            code="charge_already_refunded", message="Charge ch_x has already been refunded."
        ),
    )
    with pytest.raises(GatewayError) as exc:
        get_gateway().refund(
            payment_intent_id=shapes.PI_ID, amount=None, idempotency_key="refund:9", reason="x"
        )
    assert exc.value.state_conflict is True


@responses.activate
def test_list_refunds_and_payment_intents_send_filters():
    responses.get(
        f"{BASE}/v1/refunds",
        json=shapes.list_of([shapes.refund(), shapes.refund(id="re_2")], "/v1/refunds"),
    )
    responses.get(
        f"{BASE}/v1/payment_intents",
        json=shapes.list_of([shapes.payment_intent(status="succeeded")], "/v1/payment_intents"),
    )
    refunds = get_gateway().list_refunds(payment_intent_id=shapes.PI_ID)
    intents = get_gateway().list_payment_intents(created_gte=1763600000, limit=10)

    assert [r.id for r in refunds] == ["re_3QxKqL2eZvKYlo2C1oPqRsTu", "re_2"]
    assert parse_qs(responses.calls[0].request.url.split("?", 1)[1]) == {
        "payment_intent": [shapes.PI_ID],
        "limit": ["100"],
    }
    assert [i.status for i in intents] == ["succeeded"]
    assert parse_qs(responses.calls[1].request.url.split("?", 1)[1]) == {
        "limit": ["10"],
        "created[gte]": ["1763600000"],
    }


def test_missing_secret_key_is_refused_loudly(settings):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(GatewayError):
        get_gateway()


@responses.activate
def test_saving_a_card_and_charging_it_off_session():
    """A customer at Stripe; a payment that keeps the card (setup_future_usage); an
    off-session charge of the saved card, and the bank asking for authentication (the
    intent it left behind is named in the error)."""
    responses.post(f"{BASE}/v1/customers", json={"id": "cus_T1", "object": "customer"})
    gateway = get_gateway()
    assert gateway.create_customer(email="a@example.com", idempotency_key="user:1:customer") == (
        "cus_T1"
    )
    assert responses.calls[0].request.headers["Idempotency-Key"] == "user:1:customer"
    assert _form(responses.calls[0]) == {"email": ["a@example.com"]}

    responses.post(f"{BASE}/v1/payment_intents", json=shapes.payment_intent())
    gateway.create_payment_intent(
        amount=Money(1500, "USD"),
        metadata={},
        idempotency_key="k1",
        customer="cus_T1",
        save_card=True,
    )
    saving = _form(responses.calls[1])
    assert saving["customer"] == ["cus_T1"] and saving["setup_future_usage"] == ["off_session"]

    succeeded = {**shapes.payment_intent(status="succeeded"), "payment_method": "pm_saved"}
    responses.replace(responses.POST, f"{BASE}/v1/payment_intents", json=succeeded)
    intent = gateway.create_payment_intent(
        amount=Money(650, "USD"),
        metadata={},
        idempotency_key="k2",
        customer="cus_T1",
        off_session_payment_method="pm_saved",
    )
    off = _form(responses.calls[2])
    assert off["off_session"] == ["true"] and off["confirm"] == ["true"]
    assert off["payment_method"] == ["pm_saved"] and "setup_future_usage" not in off
    assert intent.payment_method == "pm_saved" and intent.status == "succeeded"

    declined = shapes.error(
        code="authentication_required",
        message="This transaction requires authentication.",
        type="card_error",
    )
    declined["error"]["payment_intent"] = shapes.payment_intent(id="pi_held")
    responses.replace(responses.POST, f"{BASE}/v1/payment_intents", status=402, json=declined)
    with pytest.raises(GatewayError) as exc:
        gateway.create_payment_intent(
            amount=Money(650, "USD"),
            metadata={},
            idempotency_key="k3",
            customer="cus_T1",
            off_session_payment_method="pm_saved",
        )
    assert exc.value.code == "authentication_required"
    assert exc.value.payment_intent_id == "pi_held"
