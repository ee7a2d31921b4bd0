"""Payment gateways: `get_gateway()` returns the one `settings.PAYMENTS_BACKEND` names."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from payments.gateways.base import GatewayError, GatewayIntent, GatewayRefund, PaymentGateway

__all__ = ["GatewayError", "GatewayIntent", "GatewayRefund", "PaymentGateway", "get_gateway"]


def get_gateway(livemode: bool = True) -> PaymentGateway:
    """The configured gateway; test mode (`livemode=False`) always gets the simulator."""
    backend = settings.PAYMENTS_BACKEND if livemode else "sandbox"
    if backend == "stripe":
        from payments.gateways.stripe import StripeGateway

        return StripeGateway()
    if backend == "sandbox":
        # The simulator lives in the `sandbox` app, above this one: found by its dotted path.
        return import_string(settings.SANDBOX_GATEWAY_CLASS)()  # type: ignore[no-any-return]
    raise ValueError(f"unknown PAYMENTS_BACKEND {backend!r}")
