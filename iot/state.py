"""The fleet's status tables: SIMs, SMS, top-ups and bulk jobs move only through these
and `ttelgo.state` (compare-and-set)."""

from __future__ import annotations

from iot.models import IotBulkJob, IotSim, IotSms, IotTopup
from ttelgo.state import StateTable

S = IotSim.Status
M = IotSms.Status
T = IotTopup.Status
J = IotBulkJob.Status

SIM_STATES = StateTable.of(
    "SIM",
    {S.ENABLED: {S.DISABLED}, S.DISABLED: {S.ENABLED}},
    actions={"enable": {S.DISABLED}, "disable": {S.ENABLED}},
)
SMS_STATES = StateTable.of(
    "SMS",
    {
        M.QUEUED: {M.PENDING, M.FAILED},
        M.PENDING: {M.DELIVERED, M.FAILED, M.EXPIRED},
        M.DELIVERED: set(),
        M.FAILED: set(),
        M.EXPIRED: set(),
        M.RECEIVED: set(),
    },
)
TOPUP_STATES = StateTable.of(
    "Top-up", {T.RESERVED: {T.COMPLETED, T.FAILED}, T.COMPLETED: set(), T.FAILED: set()}
)
BULK_JOB_STATES = StateTable.of(
    "Bulk job",
    {
        J.QUEUED: {J.RUNNING, J.FAILED},
        J.RUNNING: {J.COMPLETED, J.FAILED},
        J.COMPLETED: set(),
        J.FAILED: set(),
    },
)
