"""The one shape of the emails we write to people: a subject, and the text and HTML of
`templates/emails/<template>.txt|.html`, all in the reader's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation


def templated_email(
    *,
    template: str,
    context: dict[str, Any],
    to: str,
    language: str,
    subject: Callable[[], str],
    from_email: str | None = None,
    reply_to: list[str] | None = None,
) -> EmailMultiAlternatives:
    """The message, ready to send (the caller may attach more first). `subject` is called
    in the reader's language, so a translated subject comes out translated."""
    with translation.override(language or settings.LANGUAGE_CODE):
        title = subject()
        text = render_to_string(f"emails/{template}.txt", context)
        html = render_to_string(f"emails/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=title,
        body=text,
        from_email=from_email or settings.DEFAULT_FROM_EMAIL,
        to=[to],
        reply_to=reply_to,
    )
    message.attach_alternative(html, "text/html")
    return message
