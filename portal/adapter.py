"""django-allauth's hooks for the portal: where people land after logging in or
signing up."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest
from django.urls import reverse


class PortalAccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request: HttpRequest) -> str:
        return reverse("portal:overview")

    def get_signup_redirect_url(self, request: HttpRequest) -> str:
        return reverse("portal:overview")

    def get_logout_redirect_url(self, request: HttpRequest) -> str:
        return reverse("account_login")
