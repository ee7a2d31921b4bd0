"""Operator permissions, checked in the services so a role holds whichever screen, bulk
action or script calls them (the admin hides what a role may not do, and the service
refuses it again)."""

from __future__ import annotations

from typing import Any

from ttelgo.errors import DomainError


def operator_require(actor: Any, *perms: str) -> None:
    """Refuse (`permission_denied`) unless the operator holds one of `perms`."""
    if actor is None or not any(actor.has_perm(p) for p in perms):
        raise DomainError(
            "permission_denied",
            "Your role does not allow this action.",
            details={"needs": list(perms)},
        )
