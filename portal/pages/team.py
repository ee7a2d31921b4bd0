"""The portal's team page (members, roles, invitations) and the page an invitation's
link opens: an invitee with no account sets a password there (the link proved the
address); one with an account logs in with the invited address and accepts."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from portal.views import _context, _field_errors, portal_live_page
from ttelgo.errors import DomainError
from ttelgo.validators import SendableEmailFormField
from vendors.members import member_may
from vendors.models import VendorInvitation, VendorUser
from vendors.team import (
    invitation_accept,
    invitation_accept_new_account,
    invitation_accepted,
    invitation_open,
    member_invite,
    member_remove,
    member_role_set,
)

ROLE_CHOICES = VendorUser.Role.choices


class InviteForm(forms.Form):
    email = SendableEmailFormField(label="Email")
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=VendorUser.Role.DEVELOPER, label="Role")


class PasswordForm(forms.Form):
    password1 = forms.CharField(widget=forms.PasswordInput, label="Choose a password")
    password2 = forms.CharField(widget=forms.PasswordInput, label="The password again")

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        elif data.get("password1"):
            try:
                validate_password(data["password1"])
            except ValidationError as exc:
                self.add_error("password1", exc)
        return data


@portal_live_page
def team(request: HttpRequest, member: VendorUser) -> HttpResponse:
    form = InviteForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                invitation = member_invite(member=member, **form.cleaned_data)
            except DomainError as exc:
                _field_errors(form, exc)
            else:
                messages.success(request, f"Invitation sent to {invitation.email}.")
                return redirect("portal:team")
    context = _context(
        member,
        form=form,
        members=VendorUser.objects.filter(vendor=member.vendor).select_related("user"),
        invitations=VendorInvitation.objects.filter(
            vendor=member.vendor, accepted_at__isnull=True, revoked_at__isnull=True
        ),
        roles=ROLE_CHOICES,
        may_team=member_may(member, "team.manage"),
    )
    return render(request, "portal/team.html", context, status=status)


@require_POST
@portal_live_page
def team_member(
    request: HttpRequest, member: VendorUser, member_id: int, action: str
) -> HttpResponse:
    try:
        if action == "remove":
            member_remove(member=member, member_id=member_id)
            messages.success(request, "Removed from the team.")
        elif action == "role":
            changed = member_role_set(
                member=member, member_id=member_id, role=request.POST.get("role", "")
            )
            messages.success(request, f"{changed.user.email} is now {changed.role}.")
        else:
            messages.error(request, "Unknown action.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("portal:team")


def _invitation_pressed_again(request: HttpRequest, accepted: VendorInvitation) -> HttpResponse:
    """'Join' pressed again after the first press made the account: the same password
    lands logged in like the first press; any other is told the invitation is taken."""
    try:
        joined = invitation_accept_new_account(
            invitation=accepted, password=request.POST.get("password1", "")
        )
    except DomainError as exc:
        return render(request, "portal/no_access.html", {"message": exc.message}, status=400)
    login(request, joined.user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("portal:overview")


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    found = invitation_open(token)
    if found is None:
        late = invitation_accepted(token) if request.method == "POST" else None
        if late is not None and not request.user.is_authenticated:
            return _invitation_pressed_again(request, late)
        gone = {"message": "This invitation has expired, was used, or was withdrawn."}
        return render(request, "portal/no_access.html", gone, status=404)
    user = request.user if request.user.is_authenticated else None
    known = get_user_model().objects.filter(email__iexact=found.email).first()
    form = PasswordForm(request.POST or None) if user is None and known is None else None
    status = 200
    if request.method == "POST":
        status = 400
        try:
            if user is not None:
                invitation_accept(invitation=found, user=user)
                return redirect("portal:overview")
            if form is None and user is None:
                # The account appeared since this press began: another press of 'join'
                # made it (or a sign-up did); the invitation's lock tells which.
                return _invitation_pressed_again(request, found)
            if form is not None and form.is_valid():
                joined = invitation_accept_new_account(
                    invitation=found, password=form.cleaned_data["password1"]
                )
                login(request, joined.user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect("portal:overview")
        except DomainError as exc:
            messages.error(request, exc.message)
    context = {
        "invitation": found,
        "form": form,
        "known": known is not None and user is None,
        "login_url": f"{reverse('account_login')}?next={request.path}",
    }
    return render(request, "portal/invitation.html", context, status=status)
