"""Payment gateways: `get_gateway()` returns the one `settings.PAYMENTS_BACKEND` names."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from payments.gateways.base import (
    GatewayBalanceTransaction,
    GatewayError,
    GatewayIntent,
    GatewayPayout,
    GatewayRefund,
    PaymentGateway,
)

__all__ = [
    "GatewayBalanceTransaction",
    "GatewayError",
    "GatewayIntent",
    "GatewayPayout",
    "GatewayRefund",
    "PaymentGateway",
    "gateway_backend",
    "get_gateway",
]


def gateway_backend(livemode: bool = True) -> str:
    """Which gateway serves a payment of this mode: the configured one, or, in test mode,
    always the simulator ("sandbox")."""
    return str(settings.PAYMENTS_BACKEND) if livemode else "sandbox"


def get_gateway(livemode: bool = True) -> PaymentGateway:
    """The gateway `gateway_backend(livemode)` names."""
    backend = gateway_backend(livemode)
    if backend == "stripe":
        from payments.gateways.stripe import StripeGateway

        return StripeGateway()
    if backend == "sandbox":
        # The simulator lives in the `sandbox` app, above this one: found by its dotted path.
        return import_string(settings.SANDBOX_GATEWAY_CLASS)()  # type: ignore[no-any-return]
    raise ValueError(f"unknown PAYMENTS_BACKEND {backend!r}")
