"""What vendor staff do to the IoT fleet in the portal: the iot app's services behind the
member's role (owner, admin and developer manage SIMs and buy their top-ups) and the
member's vendor (another vendor's SIM is not found), each form once per the key it
carries, under the API's idempotency (the same key space as the vendor's API keys)."""

from __future__ import annotations

from typing import Any

from iot import selectors, services
from iot.models import IotFleetSettings, IotSim, IotTopup
from ttelgo.idempotency import idempotent_run
from vendors.members import member_require
from vendors.models import VendorUser

MANAGE = "orders.manage"


def _scope(member: VendorUser) -> str:
    return f"vendor:{member.vendor.pk}"


def member_iot_sim_get(*, member: VendorUser, iccid: str) -> IotSim:
    member_require(member, "view")
    return selectors.sim_get_for_vendor(vendor=member.vendor, iccid=iccid)


def member_iot_topup(
    *, member: VendorUser, idempotency_key: str, iccid: str
) -> tuple[IotTopup, bool]:
    """Buy one top-up for the SIM at the price the confirm step showed, once per key (a
    double submit or a reload is the first top-up: `True`, a replay). Test mode pays
    with play money and buys from the sandbox."""
    member_require(member, MANAGE)
    sim = selectors.sim_get_for_vendor(vendor=member.vendor, iccid=iccid)
    result, replayed = idempotent_run(
        scope=_scope(member),
        key=idempotency_key,
        path=f"portal:iot-topup:{iccid}",
        payload={"iccid": iccid},
        run=lambda: {"topup_id": services.topup_buy(sim=sim).pk},
        atomic=False,  # the provider is asked between the service's own transactions
    )
    return IotTopup.objects.get(pk=result["topup_id"], vendor=member.vendor), replayed


def member_iot_sms_send(
    *, member: VendorUser, idempotency_key: str, iccids: list[str], text: str
) -> tuple[int, bool]:
    """One SMS to each of the SIMs (all of them the vendor's and enabled, or none sent),
    once per key. Returns (messages queued, replayed)."""
    member_require(member, MANAGE)
    sims = selectors.sims_get_for_vendor(vendor=member.vendor, iccids=iccids)
    result, replayed = idempotent_run(
        scope=_scope(member),
        key=idempotency_key,
        path="portal:iot-sms",
        payload={"iccids": sorted(s.iccid for s in sims), "text": text},
        run=lambda: {"sent": len(services.sms_send(vendor=member.vendor, sims=sims, text=text))},
    )
    return int(result["sent"]), replayed


def member_iot_sim_auto_topup(
    *, member: VendorUser, idempotency_key: str, iccid: str, enabled: bool | None, cap: int | None
) -> tuple[IotSim, bool]:
    member_require(member, MANAGE)
    sim = selectors.sim_get_for_vendor(vendor=member.vendor, iccid=iccid)
    _, replayed = idempotent_run(
        scope=_scope(member),
        key=idempotency_key,
        path=f"portal:iot-auto-topup:{iccid}",
        payload={"enabled": enabled, "cap": cap},
        run=lambda: {"sim_id": services.sim_auto_topup_set(sim=sim, enabled=enabled, cap=cap).pk},
    )
    sim.refresh_from_db()
    return sim, replayed


def member_iot_fleet_auto_topup(
    *, member: VendorUser, idempotency_key: str, values: dict[str, Any]
) -> tuple[IotFleetSettings, bool]:
    member_require(member, MANAGE)
    _, replayed = idempotent_run(
        scope=_scope(member),
        key=idempotency_key,
        path="portal:iot-auto-topup",
        payload=values,
        run=lambda: {"id": services.fleet_settings_set(vendor=member.vendor, **values).pk},
    )
    return IotFleetSettings.objects.get(vendor=member.vendor), replayed


def member_iot_sim_refresh(*, member: VendorUser, iccid: str) -> IotSim:
    """Read the SIM, its quotas and its events from the provider now (a read: no key)."""
    member_require(member, MANAGE)
    sim = selectors.sim_get_for_vendor(vendor=member.vendor, iccid=iccid)
    services.sim_refresh(sim=sim)
    services.sms_sync(sim=sim)
    sim.refresh_from_db()
    return sim
