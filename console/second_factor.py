"""Operators' second factor: the console (`/admin/`) asks staff for a TOTP code.

With `CONSOLE_REQUIRE_MFA` on (production's default), a staff session reaches a console
page only once it has passed a second factor — django-allauth's MFA, the portal's own:

- a staff user without an authenticator is sent to enrol one (`mfa_activate_totp`, which
  asks for the password again first, then for a code from the new authenticator);
- one with an authenticator whose session has not passed it is sent to
  `mfa_reauthenticate` (a TOTP code or a recovery code), then back to the page.

Passing is allauth's own record in the session (an authentication record with method
"mfa"), so a session that logged in through the portal's login with its code, or
re-authenticated, or just enrolled, is in; the record goes with the session (logout).
The console's login and logout pages stay open. With the setting off (the default for
`make run` and the tests) nothing changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from allauth.account.authentication import get_authentication_records
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from allauth.mfa.signals import authenticator_added
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode

FACTOR_TYPES = [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]


def console_factor_passed(request: HttpRequest, user: Any) -> bool:
    """Has `user`'s session passed a second factor (allauth's record of an "mfa" step,
    kept for the user it was recorded for)?"""
    records = get_authentication_records(request, user)
    return any(r.get("method") == "mfa" for r in records)


def console_factor_redirect(request: HttpRequest) -> HttpResponse | None:
    """Where a staff session must go before it may see `request`'s console page, or None
    when it may (setting off, not a console page, not staff, factor passed)."""
    if not getattr(settings, "CONSOLE_REQUIRE_MFA", False):
        return None
    admin_root = reverse("admin:index")
    if not request.path.startswith(admin_root):
        return None
    if request.path in (reverse("admin:login"), reverse("admin:logout")):
        return None
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return None  # the console itself sends anyone else to its login
    if console_factor_passed(request, user):
        return None
    step = "mfa_reauthenticate" if is_mfa_enabled(user, FACTOR_TYPES) else "mfa_activate_totp"
    return HttpResponseRedirect(reverse(step) + "?" + urlencode({"next": request.get_full_path()}))


class ConsoleSecondFactorMiddleware:
    """Sends a staff session that has not passed a second factor away from the console
    (see the module's docstring). After AuthenticationMiddleware and allauth's
    AccountMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return console_factor_redirect(request) or self.get_response(request)


@receiver(authenticator_added)
def record_enrolment_as_factor(
    sender: Any, request: HttpRequest | None, user: Any, authenticator: Any, **kwargs: Any
) -> None:
    """Enrolling a TOTP authenticator takes a right code from it: the session has passed
    the second factor (recorded as allauth records a login's), so an operator enrolled
    from the console's redirect is not asked for a second code at once."""
    if request is None or authenticator.type != Authenticator.Type.TOTP:
        return
    record_authentication(request, user, method="mfa", type=authenticator.type, id=authenticator.pk)
