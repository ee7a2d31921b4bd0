"""A vendor's team: invitations by email with a role, accepting them, changing roles and
removing members. Owners and admins manage the team (only an owner makes or removes an
owner, and the last owner stays); every change is audited and emailed to the owner."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from ttelgo.audit import audit_record
from ttelgo.errors import DomainError
from ttelgo.outbox import task_enqueue
from ttelgo.validators import one_line
from vendors.lock_objects import vendor_invitation_qs_select_for_update
from vendors.members import member_require
from vendors.models import VendorInvitation, VendorUser
from vendors.services import vendor_notify

Role = VendorUser.Role
INVITATION_DAYS = 7


def _may_grant(member: VendorUser, role: str) -> None:
    if role not in Role.values:
        raise DomainError("validation_error", "Choose a role.", details={"role": ["Unknown role."]})
    if role == Role.OWNER and member.role != Role.OWNER:
        raise DomainError("permission_denied", "Only an owner can make someone an owner.")


def invitation_url(invitation: VendorInvitation) -> str:
    path = reverse("portal:invitation", args=[invitation.token])
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}"


def member_invite(*, member: VendorUser, email: str, role: str) -> VendorInvitation:
    """Invite `email` to the member's vendor as `role`; an open invitation to the same
    address is replaced. The invitee is emailed a link valid for 7 days."""
    member_require(member, "team.manage")
    _may_grant(member, role)
    email = email.strip().lower()
    vendor = member.vendor
    if VendorUser.objects.filter(vendor=vendor, user__email__iexact=email).exists():
        raise DomainError(
            "conflict",
            f"{email} is already on the team.",
            details={"email": ["Already a member."]},
        )
    now = timezone.now()
    with transaction.atomic():
        VendorInvitation.objects.filter(
            vendor=vendor, email=email, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        invitation = VendorInvitation.objects.create(
            vendor=vendor,
            email=email,
            role=role,
            token=secrets.token_urlsafe(32),
            invited_by=member.user,
            expires_at=now + timedelta(days=INVITATION_DAYS),
        )
        audit_record(
            actor=member.user,
            action="vendor.member_invite",
            target=vendor,
            after={"email": email, "role": role},
        )
        task_enqueue(
            "vendors.tasks.person_email_send",
            email,
            f"{member.user.email} invites you to {one_line(vendor.name)} on TTelGo",
            f"{member.user.email} invites you to join {vendor.name}'s team in the TTelGo "
            f"vendor portal as {role}.\n\nAccept within {INVITATION_DAYS} days:\n"
            f"{invitation_url(invitation)}\n\nIf you did not expect this, ignore this email.\n",
        )
    return invitation


def invitation_open(token: str) -> VendorInvitation | None:
    """The invitation behind a link, while it can still be accepted."""
    return (
        VendorInvitation.objects.select_related("vendor")
        .filter(
            token=token,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .first()
    )


def invitation_accepted(token: str) -> VendorInvitation | None:
    """The invitation behind a link that was accepted already (and not withdrawn): a
    second press of 'join' that arrives after the first made the account finds it here."""
    return (
        VendorInvitation.objects.select_related("vendor")
        .filter(token=token, accepted_at__isnull=False, revoked_at__isnull=True)
        .first()
    )


def invitation_accept(*, invitation: VendorInvitation, user: Any) -> VendorUser:
    """The invitee, logged in with the invited address, joins the team."""
    if user.email.lower() != invitation.email:
        raise DomainError(
            "permission_denied",
            f"This invitation is for {invitation.email}; log in with that address.",
        )
    if VendorUser.objects.filter(user=user).exists():
        raise DomainError(
            "conflict", "Your account already belongs to a vendor team; use another address."
        )
    with transaction.atomic():
        locked = _invitation_lock(invitation)
        if locked.accepted_at is not None or locked.revoked_at is not None:
            raise DomainError("invalid_state", "This invitation was already used or withdrawn.")
        return _join(locked, user)


def invitation_accept_new_account(*, invitation: VendorInvitation, password: str) -> VendorUser:
    """An invitee with no account joins: an account for the invited address (verified:
    the link in the email proved it) with `password`, then the membership.

    Safe to submit several times at once: the invitation's row is locked before anything
    is read, so one submission creates the account and joins; a later one with the same
    password (the same person pressing twice) gets that same membership back, any other
    a clear `invalid_state`. An account made for the address meanwhile (a sign-up) is a
    `conflict` that asks the invitee to log in, never a database error."""
    users = get_user_model().objects
    with transaction.atomic():
        locked = _invitation_lock(invitation)
        if locked.revoked_at is not None:
            raise DomainError("invalid_state", "This invitation was withdrawn.")
        if locked.accepted_at is not None:
            joined = (
                VendorUser.objects.select_related("user", "vendor")
                .filter(vendor_id=locked.vendor_id, user__email__iexact=locked.email)
                .first()
            )
            if joined is not None and joined.user.check_password(password):
                return joined
            raise DomainError(
                "invalid_state",
                f"This invitation was already accepted; log in as {locked.email}.",
            )
        if users.filter(email__iexact=locked.email).exists():
            raise _account_exists(locked)
        try:
            with transaction.atomic():
                user = users.create_user(email=locked.email, password=password)
        except IntegrityError:
            raise _account_exists(locked) from None
        EmailAddress.objects.create(user=user, email=locked.email, verified=True, primary=True)
        return _join(locked, user)


def _account_exists(invitation: VendorInvitation) -> DomainError:
    return DomainError(
        "conflict",
        f"An account for {invitation.email} exists; log in with it to accept the invitation.",
    )


def _invitation_lock(invitation: VendorInvitation) -> VendorInvitation:
    return (
        vendor_invitation_qs_select_for_update(of=("self",))
        .select_related("vendor")
        .get(pk=invitation.pk)
    )


def _join(locked: VendorInvitation, user: Any) -> VendorUser:
    """Mark the locked, open invitation accepted and add `user` to its team (inside the
    caller's transaction)."""
    locked.accepted_at = timezone.now()
    locked.save(update_fields=["accepted_at"])
    joined = VendorUser.objects.create(vendor=locked.vendor, user=user, role=locked.role)
    audit_record(
        actor=user,
        action="vendor.member_add",
        target=locked.vendor,
        after={"email": user.email, "role": locked.role},
    )
    vendor_notify(vendor=locked.vendor, template="member_added", email=user.email, role=locked.role)
    return joined


def _teammate(member: VendorUser, member_id: int) -> VendorUser:
    found = (
        VendorUser.objects.select_related("user")
        .filter(pk=member_id, vendor_id=member.vendor_id)
        .first()
    )
    if found is None:
        raise DomainError("not_found", "No such team member.")
    return found


def _owners_left(vendor_id: int, without: int) -> int:
    return (
        VendorUser.objects.filter(vendor_id=vendor_id, role=Role.OWNER).exclude(pk=without).count()
    )


def member_role_set(*, member: VendorUser, member_id: int, role: str) -> VendorUser:
    member_require(member, "team.manage")
    _may_grant(member, role)
    other = _teammate(member, member_id)
    if other.role == Role.OWNER and member.role != Role.OWNER:
        raise DomainError("permission_denied", "Only an owner can change an owner's role.")
    if (
        other.role == Role.OWNER
        and role != Role.OWNER
        and not _owners_left(other.vendor_id, other.pk)
    ):
        raise DomainError(
            "invalid_state", "The team needs an owner; make someone else owner first."
        )
    with transaction.atomic():
        before = other.role
        VendorUser.objects.filter(pk=other.pk).update(role=role)
        audit_record(
            actor=member.user,
            action="vendor.member_role",
            target=member.vendor,
            before={"email": other.user.email, "role": before},
            after={"email": other.user.email, "role": role},
        )
        vendor_notify(
            vendor=member.vendor, template="member_changed", email=other.user.email, role=role
        )
    other.role = role
    return other


def member_remove(*, member: VendorUser, member_id: int) -> None:
    """Take someone off the team: their next request to the portal is refused."""
    member_require(member, "team.manage")
    other = _teammate(member, member_id)
    if other.role == Role.OWNER and member.role != Role.OWNER:
        raise DomainError("permission_denied", "Only an owner can remove an owner.")
    if other.role == Role.OWNER and not _owners_left(other.vendor_id, other.pk):
        raise DomainError("invalid_state", "The team's last owner cannot be removed.")
    with transaction.atomic():
        other.delete()
        audit_record(
            actor=member.user,
            action="vendor.member_remove",
            target=member.vendor,
            before={"email": other.user.email, "role": other.role},
        )
        vendor_notify(
            vendor=member.vendor, template="member_changed", email=other.user.email, role="removed"
        )
