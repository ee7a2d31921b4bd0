"""Payment gateways: `get_gateway()` returns the one `settings.PAYMENTS_BACKEND` names."""

from __future__ import annotations

from django.conf import settings

from payments.gateways.base import GatewayError, GatewayIntent, GatewayRefund, PaymentGateway

__all__ = ["GatewayError", "GatewayIntent", "GatewayRefund", "PaymentGateway", "get_gateway"]


def get_gateway() -> PaymentGateway:
    backend = settings.PAYMENTS_BACKEND
    if backend == "stripe":
        from payments.gateways.stripe import StripeGateway

        return StripeGateway()
    if backend == "sandbox":
        from payments.gateways.sandbox import SandboxGateway

        return SandboxGateway()
    raise ValueError(f"unknown PAYMENTS_BACKEND {backend!r}")
