"""django-allauth's hooks for the portal: where people land after logging in or
signing up."""

from __future__ import annotations

from typing import Any

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

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        super().send_mail(template_prefix, email, context)
