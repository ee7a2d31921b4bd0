"""The IoT SIM provider interface in TTelGo's own terms (beside the travel eSIM one in
`base.py`): plain dataclasses and the same error hierarchy. The 1NCE adapter
(`onence.py`) and the sandbox fleet map their upstream shapes into these types; nothing
outside `providers/` sees 1NCE field names.

Units: data in bytes (1NCE counts MB, decimal strings or floats: converted without
floats), SMS in messages.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import date, datetime

SIM_ENABLED = "enabled"
SIM_DISABLED = "disabled"
SIM_STATUSES = (SIM_ENABLED, SIM_DISABLED)

# Quota state as 1NCE's `quota_status.id`: 0 more than the threshold left, 1 under it,
# 2 nothing left.
QUOTA_OK = "ok"
QUOTA_LOW = "low"
QUOTA_EXHAUSTED = "exhausted"
QUOTA_EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class IotSimInfo:
    iccid: str
    imsi: str
    msisdn: str
    status: str  # SIM_ENABLED | SIM_DISABLED
    label: str
    imei: str
    imei_lock: bool
    activated_at: datetime | None = None
    ip_address: str = ""
    data_left_bytes: int | None = None  # current_quota
    sms_left: int | None = None  # current_quota_SMS
    data_quota_state: str = QUOTA_OK
    sms_quota_state: str = QUOTA_OK


@dataclass(frozen=True, slots=True)
class IotSimPage:
    sims: list[IotSimInfo]
    page: int
    total_pages: int
    total_count: int | None = None


@dataclass(frozen=True, slots=True)
class IotSimChange:
    """One SIM's new settings (None: unchanged)."""

    iccid: str
    status: str | None = None
    label: str | None = None
    imei_lock: bool | None = None


@dataclass(frozen=True, slots=True)
class IotUsage:
    day: date
    data_bytes: int  # rx + tx
    data_rx_bytes: int
    data_tx_bytes: int
    sms_mo: int
    sms_mt: int

    @property
    def sms(self) -> int:
        return self.sms_mo + self.sms_mt


@dataclass(frozen=True, slots=True)
class IotQuota:
    service: str  # "data" | "sms"
    left: int  # bytes or messages
    total: int  # lifetime total (bytes or messages)
    state: str = QUOTA_OK
    expires_at: datetime | None = None
    threshold_percent: int | None = None
    last_added: int | None = None


@dataclass(frozen=True, slots=True)
class IotSms:
    provider_id: str
    iccid: str
    direction: str  # "mt" (to the SIM) | "mo" (from the SIM)
    text: str
    status: str  # pending | delivered | failed | expired | unknown
    submitted_at: datetime | None = None
    delivered_at: datetime | None = None
    source_address: str = ""


@dataclass(frozen=True, slots=True)
class IotEvent:
    provider_id: str
    iccid: str
    kind: str  # upstream text, e.g. "Update location", "Quota threshold"
    at: datetime | None
    severity: str = ""
    alert: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class IotProductCharge:
    name: str
    amount: str  # decimal string as sent
    currency: str


@dataclass(frozen=True, slots=True)
class IotProduct:
    provider_id: str
    name: str
    package_size: int | None = None
    one_time_charges: tuple[IotProductCharge, ...] = ()


@dataclass(frozen=True, slots=True)
class IotOrder:
    number: str
    kind: str  # FIRST_ORDER | ADDITIONAL_ORDER | TOPUP | BULK_TOPUP | TARIFF_CHANGE
    status: str
    created_at: datetime | None = None
    invoice_amount: str = ""  # decimal string as sent
    currency: str = ""
    iccids: tuple[str, ...] = field(default_factory=tuple)


class IotProvider(abc.ABC):
    """What TTelGo needs from an IoT SIM provider. Every method raises ProviderError
    subclasses only (`providers.base`); callers decide on retries with `transient`."""

    name: str = "iot"

    @abc.abstractmethod
    def list_sims(self, *, page: int = 1, page_size: int = 100) -> IotSimPage:
        """One page of the account's SIMs (pages from 1)."""

    @abc.abstractmethod
    def get_sim(self, iccid: str) -> IotSimInfo: ...

    @abc.abstractmethod
    def update_sim(self, change: IotSimChange) -> None:
        """Enable/disable, label, IMEI lock of one SIM (applied at once)."""

    @abc.abstractmethod
    def update_sims(self, changes: list[IotSimChange]) -> None:
        """The same for many SIMs in one call (queued by the provider)."""

    @abc.abstractmethod
    def usage(self, iccid: str, *, start: date, end: date) -> list[IotUsage]:
        """Daily usage, both days included (1NCE: the last 6 months only)."""

    @abc.abstractmethod
    def quota(self, iccid: str, *, service: str) -> IotQuota:
        """`service` is "data" or "sms"."""

    @abc.abstractmethod
    def topup(self, iccid: str) -> str:
        """Add the standard top-up volume to the SIM; returns the provider's order number."""

    @abc.abstractmethod
    def auto_topup_set(self, iccids: list[str], *, enabled: bool) -> None: ...

    @abc.abstractmethod
    def sms_send(self, iccid: str, *, text: str, source_address: str = "") -> str:
        """Send an MT-SMS to the SIM; returns the provider's id ("" when it gives none)."""

    @abc.abstractmethod
    def sms_list(self, iccid: str, *, page: int = 1, page_size: int = 100) -> list[IotSms]:
        """The SIM's SMS, both directions, newest first as the provider sorts them."""

    @abc.abstractmethod
    def events(self, iccid: str, *, page: int = 1, page_size: int = 100) -> list[IotEvent]: ...

    @abc.abstractmethod
    def list_orders(self, *, page: int = 1, page_size: int = 10) -> list[IotOrder]: ...

    @abc.abstractmethod
    def list_products(self) -> list[IotProduct]: ...
