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
from .iot import IotProvider

__all__ = [
    "PROVIDER_NAMES",
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
    "get_iot_provider",
    "get_provider",
]

_clients: dict[str, Provider] = {}

PROVIDER_NAMES = ("sandbox", "esimgo", "airalo")


def get_provider(livemode: bool = True, name: str | None = None) -> Provider:
    """The provider `name` (default `settings.ESIM_PROVIDER`); test mode (`livemode=False`)
    always gets the simulator. Real clients are kept per process so their HTTP sessions
    (connection pools) are reused."""
    name = name or settings.ESIM_PROVIDER
    if livemode and name in ("esimgo", "airalo"):
        if name not in _clients:
            _clients[name] = _client(name)
        return _clients[name]
    # The simulator lives in the `sandbox` app, above this one: found by its dotted path.
    sandbox_provider = import_string(settings.SANDBOX_PROVIDER_CLASS)
    return sandbox_provider(currency=settings.DEFAULT_CURRENCY)  # type: ignore[no-any-return]


def _client(name: str) -> Provider:
    from django.core.exceptions import ImproperlyConfigured

    if name == "esimgo":
        from .esimgo import EsimGoProvider

        if not settings.ESIMGO_API_KEY:
            raise ImproperlyConfigured("the esimgo provider needs ESIMGO_API_KEY")
        return EsimGoProvider()
    from .airalo import AiraloProvider

    if not (settings.AIRALO_CLIENT_ID and settings.AIRALO_CLIENT_SECRET):
        raise ImproperlyConfigured(
            "the airalo provider needs AIRALO_CLIENT_ID and AIRALO_CLIENT_SECRET"
        )
    return AiraloProvider()


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
