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
    ProviderNotFound,
    ProviderOrder,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    TopupResult,
)
from .iot import IotProvider

__all__ = [
    "BundleUsage",
    "CircuitOpen",
    "EsimDetails",
    "EsimInstall",
    "IotProvider",
    "OrderItem",
    "Provider",
    "ProviderAuthError",
    "ProviderBundle",
    "ProviderError",
    "ProviderNotFound",
    "ProviderOrder",
    "ProviderRateLimited",
    "ProviderRejected",
    "ProviderTimeout",
    "ProviderUnavailable",
    "TopupResult",
    "get_iot_provider",
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


_once: IotProvider | None = None


def get_iot_provider(livemode: bool = True) -> IotProvider:
    """The IoT SIM provider (`settings.IOT_PROVIDER`: "1nce" or "sandbox"); test mode
    always gets the simulated fleet. The 1NCE client is kept per process (its session and
    its copy of the shared token)."""
    global _once
    if livemode and settings.IOT_PROVIDER == "1nce":
        if _once is None:
            from django.core.exceptions import ImproperlyConfigured

            from .onence import OnceProvider

            if not (settings.ONCE_CLIENT_ID and settings.ONCE_CLIENT_SECRET):
                raise ImproperlyConfigured("IOT_PROVIDER=1nce needs ONCE_CLIENT_ID and _SECRET")
            _once = OnceProvider()
        return _once
    sandbox_provider = import_string(settings.SANDBOX_IOT_PROVIDER_CLASS)
    return sandbox_provider()  # type: ignore[no-any-return]
