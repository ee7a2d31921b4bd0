"""The provider interface in TTelGo's own terms.

Everything the rest of the project knows about an upstream eSIM provider is in this file:
plain dataclasses and one error hierarchy. Adapters (`esimgo.py`, `sandbox.py`) map the
upstream's DTOs into these types; nothing outside `providers/` sees upstream field
names.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ttelgo.money import Money

BYTES_PER_MB = 1024 * 1024


# --- errors -------------------------------------------------------------------------------
class ProviderError(Exception):
    """Any failure talking to a provider. `transient` says whether retrying may help;
    `skip_provider` that this provider surely did not buy and cannot deliver now, so a
    router may place the order with another provider at once."""

    transient: bool = False
    skip_provider: bool = False
    code: str = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        request_sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after
        # False only when the provider surely never saw the request (connect timeout)
        self.request_sent = request_sent


class ProviderUnavailable(ProviderError):
    """5xx or no answer: the provider may be fine again in a moment."""

    transient = True
    code = "provider_unavailable"


class ProviderTimeout(ProviderUnavailable):
    """Connect or read timeout (or a dropped connection)."""


class ProviderRateLimited(ProviderError):
    """429: slow down; `retry_after` (seconds) is what the provider asked for."""

    transient = True
    code = "rate_limited"


class CircuitOpen(ProviderUnavailable):
    """Our circuit breaker refuses calls after repeated failures; no request was sent."""

    skip_provider = True


class ProviderMaintenance(ProviderUnavailable):
    """The provider says the network operator of this package is in maintenance. Says
    nothing about the provider's own health (the breaker ignores it)."""

    skip_provider = True
    package_level = True
    code = "provider_maintenance"


class ProviderRejected(ProviderError):
    """4xx: the request itself is wrong (bad bundle, bad ICCID, not enough balance)."""

    code = "provider_rejected"


class ProviderAuthError(ProviderRejected):
    """401/403: our API key is wrong or lacks permission. Needs an operator, not a retry."""

    code = "provider_auth"


class ProviderNotFound(ProviderRejected):
    code = "provider_not_found"


class ProviderNoCredit(ProviderRejected):
    """Our prepaid balance at the provider does not cover the order: an operator tops it
    up; meanwhile another provider may deliver."""

    skip_provider = True
    code = "provider_no_credit"


class ProviderOutOfStock(ProviderRejected):
    """The package is invalid or out of stock at the provider (or not in this quantity)."""

    skip_provider = True
    code = "provider_out_of_stock"


class ProviderIccidRecycled(ProviderRejected):
    """The eSIM was recycled by the provider (past its install or top-up window): it
    takes no top-up and has no usage any more."""

    code = "provider_iccid_recycled"


class ProviderTopupDisabled(ProviderRejected):
    code = "provider_topup_disabled"


# --- data ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ProviderCountry:
    iso: str
    name: str
    region: str  # region name as the provider groups it ("Europe", "Asia", ...)


@dataclass(frozen=True, slots=True)
class ProviderBundle:
    code: str
    description: str
    countries: tuple[ProviderCountry, ...]
    data_mb: int  # 0 when unlimited
    unlimited: bool
    validity_days: int
    cost: Money  # wholesale price per unit
    retail: Money | None = None  # the provider's recommended retail price, when it has one


@dataclass(frozen=True, slots=True)
class OrderItem:
    bundle_code: str
    quantity: int


@dataclass(frozen=True, slots=True)
class EsimInstall:
    iccid: str
    matching_id: str
    smdp_address: str
    activation_code: str = ""  # "LPA:1$<smdp>$<matching id>", when the provider gives it
    apple_install_url: str = ""  # one-tap install on iOS >= 17.4, when the provider gives it


@dataclass(frozen=True, slots=True)
class ProviderOrder:
    """An order at the provider. `reference` is the provider's id for it; `client_reference`
    is ours (the value passed to `create_order`) when the adapter knows it."""

    STATUS_COMPLETED = "completed"
    STATUS_PROCESSING = "processing"
    STATUS_FAILED = "failed"

    reference: str
    status: str  # completed | processing | failed
    bundle_code: str
    quantity: int
    esims: list[EsimInstall] = field(default_factory=list)
    total: Money | None = None
    client_reference: str = ""
    created_at: datetime | None = None

    @property
    def is_complete(self) -> bool:
        return self.status == self.STATUS_COMPLETED and len(self.esims) >= self.quantity


@dataclass(frozen=True, slots=True)
class EsimDetails:
    iccid: str
    matching_id: str
    smdp_address: str
    profile_status: str  # e.g. "Released", "Installed", "Enabled" as the provider says
    customer_ref: str = ""
    first_installed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BundleUsage:
    """One bundle applied to an eSIM. Quantities in bytes (upstream unit), MB as properties."""

    STATES = ("processing", "queued", "active", "depleted", "expired", "revoked", "lapsed")

    bundle_code: str
    initial_bytes: int
    remaining_bytes: int
    unlimited: bool
    state: str  # one of STATES, lowercase
    assigned_at: datetime | None = None
    reference: str = ""
    expires_at: datetime | None = None  # once the bundle started, when the provider says

    @property
    def initial_mb(self) -> int:
        return self.initial_bytes // BYTES_PER_MB

    @property
    def remaining_mb(self) -> int:
        return self.remaining_bytes // BYTES_PER_MB

    @property
    def used_mb(self) -> int:
        return max(0, self.initial_bytes - self.remaining_bytes) // BYTES_PER_MB


@dataclass(frozen=True, slots=True)
class TopupResult:
    reference: str  # provider order reference
    iccid: str
    bundle_code: str
    status: str  # completed | processing
    cost: Money | None = None


# --- interface ----------------------------------------------------------------------------
class Provider(abc.ABC):
    """What TTelGo needs from an eSIM provider. Every method raises ProviderError subclasses
    only; callers decide on retries with `error.transient`."""

    name: str = "provider"

    @abc.abstractmethod
    def list_bundles(self) -> list[ProviderBundle]:
        """The whole catalogue (adapters walk every page)."""

    @abc.abstractmethod
    def create_order(self, *, bundle_code: str, quantity: int, reference: str) -> ProviderOrder:
        """Buy `quantity` new eSIMs with `bundle_code`. `reference` is our order reference,
        recorded so `find_order(reference)` can tell after a crash whether it went through."""

    @abc.abstractmethod
    def find_order(
        self,
        reference: str,
        *,
        since: datetime | None = None,
        bundle_code: str | None = None,
        quantity: int | None = None,
        adoptable: Callable[[str], bool] | None = None,
    ) -> ProviderOrder | None:
        """The order created with our `reference`, or None. Call before re-ordering.

        A provider that cannot carry our reference on an order (eSIM Go) may also return
        an order it cannot attribute (bought by an attempt that died before tagging it)
        of the same bundle and quantity, if `adoptable(provider_reference)` says none of
        our orders has it: such eSIMs are interchangeable, so any one of our orders may
        take it, as long as only one does (the caller's unique provider reference)."""

    @abc.abstractmethod
    def get_order(self, provider_reference: str) -> ProviderOrder: ...

    @abc.abstractmethod
    def tag_esim(self, *, iccid: str, reference: str) -> None:
        """Record our `reference` on the eSIM at the provider (what `find_order` looks
        for). Idempotent: tagging again with the same reference changes nothing."""

    @abc.abstractmethod
    def get_esim(self, iccid: str) -> EsimDetails: ...

    @abc.abstractmethod
    def bundle_compatible(self, *, iccid: str, bundle_code: str) -> bool:
        """Whether the provider can apply this bundle to this eSIM (a top-up)."""

    @abc.abstractmethod
    def get_usage(self, iccid: str) -> list[BundleUsage]:
        """Every bundle on the eSIM (used ones included), newest last."""

    @abc.abstractmethod
    def apply_topup(self, *, iccid: str, bundle_code: str, reference: str) -> TopupResult: ...

    @abc.abstractmethod
    def revoke_bundle(self, *, iccid: str, bundle_code: str) -> None:
        """Revoke an unused bundle and refund it to our provider balance."""

    @abc.abstractmethod
    def list_orders(
        self, *, created_from: datetime, created_to: datetime | None = None
    ) -> list[ProviderOrder]:
        """Orders created in the window (for reconciliation), all pages."""
