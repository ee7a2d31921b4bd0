"""The upstream anti-corruption layer: the provider interface, its value types and errors,
the adapters. `get_provider()` is the one way the project obtains one. Below everything
that buys: this package imports only `ttelgo` and libraries (the layers contract)."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from .base import (
    BundleUsage,
    CircuitOpen,
    EsimDetails,
    EsimInstall,
    OrderItem,
    Provider,
    ProviderAuthError,
    ProviderBundle,
    ProviderError,
    ProviderIccidRecycled,
    ProviderMaintenance,
    ProviderNoCredit,
    ProviderNotFound,
    ProviderOrder,
    ProviderOutOfStock,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderTopupDisabled,
    ProviderUnavailable,
    TopupResult,
)

__all__ = [
    "BundleUsage",
    "CircuitOpen",
    "EsimDetails",
    "EsimInstall",
    "OrderItem",
    "Provider",
    "ProviderAuthError",
    "ProviderBundle",
    "ProviderError",
    "ProviderIccidRecycled",
    "ProviderMaintenance",
    "ProviderNoCredit",
    "ProviderNotFound",
    "ProviderOrder",
    "ProviderOutOfStock",
    "ProviderRateLimited",
    "ProviderRejected",
    "ProviderTimeout",
    "ProviderTopupDisabled",
    "ProviderUnavailable",
    "TopupResult",
    "get_provider",
]

_esimgo: Provider | None = None


def get_provider(livemode: bool = True) -> Provider:
    """The configured provider (`settings.ESIM_PROVIDER`); test mode (`livemode=False`)
    always gets the simulator. The eSIM Go client is kept per process so its HTTP session
    (connection pool) is reused."""
    global _esimgo
    if livemode and settings.ESIM_PROVIDER == "esimgo":
        if _esimgo is None:
            from django.core.exceptions import ImproperlyConfigured

            from .esimgo import EsimGoProvider

            if not settings.ESIMGO_API_KEY:
                raise ImproperlyConfigured("ESIM_PROVIDER=esimgo needs ESIMGO_API_KEY")

            _esimgo = EsimGoProvider()
        return _esimgo
    # The simulator lives in the `sandbox` app, above this one: found by its dotted path.
    sandbox_provider = import_string(settings.SANDBOX_PROVIDER_CLASS)
    return sandbox_provider(currency=settings.DEFAULT_CURRENCY)  # type: ignore[no-any-return]
