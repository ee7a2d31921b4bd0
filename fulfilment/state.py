"""The eSIM's status tables: where an `Esim` may go (`ESIM_STATES`), which statuses are
in service (`ESIM_IN_SERVICE`), where a refund of an unused eSIM may go
(`ESIM_REFUND_STATES`) and what the provider owes us for a revoked bundle
(`PROVIDER_REFUND_STATES`). Every move of either column goes through `ttelgo.state`
(compare-and-set); nothing else writes them."""

from __future__ import annotations

from typing import Any

from fulfilment.models import Esim, EsimRefund, ProviderRefund
from ttelgo.state import StateTable, transition

E = Esim.Status
R = EsimRefund.Status

ESIM_STATES = StateTable.of(
    "eSIM",
    {
        # The provider reports the first use (`active`), the data used up or the validity
        # over; we revoke one never installed (its refund).
        E.RELEASED: {E.INSTALLED, E.ACTIVE, E.DEPLETED, E.EXPIRED, E.REVOKED},
        E.INSTALLED: {E.ACTIVE, E.DEPLETED, E.EXPIRED, E.REVOKED},
        E.ACTIVE: {E.DEPLETED, E.EXPIRED, E.REVOKED},
        # A top-up brings a depleted or expired eSIM back into service; the provider may
        # report it depleted, expired or revoked meanwhile.
        E.DEPLETED: {E.ACTIVE, E.EXPIRED, E.REVOKED},
        E.EXPIRED: {E.ACTIVE, E.DEPLETED, E.REVOKED},
        # Taken back (and paid back): nothing brings it into service again.
        E.REVOKED: set(),
    },
    actions={
        # Only an eSIM never installed is taken back (and refunded); one in use is kept.
        "revoke": {E.RELEASED},
    },
)
# An eSIM that can still be used (and so still expire): what the usage refresh, the
# expiry notices and the expiry auto top-ups walk.
ESIM_IN_SERVICE = (E.RELEASED, E.INSTALLED, E.ACTIVE)

# A request is created `in_review` (held for operators) or `refunding` (claimed at once).
ESIM_REFUND_STATES = StateTable.of(
    "eSIM refund",
    {
        # Claimed by the one caller whose update moved it (a retry, or the sweep).
        R.REQUESTED: {R.REFUNDING},
        # Paid back; refused (nothing revoked, or the provider says it is in use); released
        # for a retry after the money failed to move; or claimed again once its claim
        # lapsed (`refunding -> refunding` with a fresh `claimed_at`).
        R.REFUNDING: {R.REFUNDED, R.REJECTED, R.REQUESTED, R.REFUNDING},
        # An operator refunds it (claims it) or rejects it.
        R.IN_REVIEW: {R.REFUNDING, R.REJECTED},
        R.REFUNDED: set(),
        R.REJECTED: set(),
    },
    actions={"review": {R.IN_REVIEW}},  # the console's refund / reject
)

PROVIDER_REFUND_STATES = StateTable.of(
    "Provider refund",
    {
        ProviderRefund.Status.PENDING: {ProviderRefund.Status.RECEIVED},
        ProviderRefund.Status.RECEIVED: set(),
    },
)


def esim_transition(*, esim_id: int, to: str, expected: str | None = None, **fields: Any) -> Esim:
    """Move an eSIM to `to` if `ESIM_STATES` allows it from its status (and that status is
    `expected`): compare-and-set, so of two concurrent moves one wins and the other gets
    `invalid_state`. Callers that hold the eSIM's row lock pass the status they read."""
    esim, _ = transition(Esim, pk=esim_id, table=ESIM_STATES, to=to, expected=expected, **fields)
    return esim
