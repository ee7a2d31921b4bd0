"""Single-line text: what ends up in an email's subject or a header (a ticket's subject, a
vendor's name, a brand's sender name) is one line of printable text. A line break there
would start a new header (`Bcc: ...`), so it is refused where the text comes in, with a
message that says which character and where, and flattened where a header is written
(`one_line`), for text stored before the rule."""

from __future__ import annotations

import unicodedata
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.utils.deconstruct import deconstructible

# Control characters (CR, LF, TAB, NUL, DEL, C1 such as NEL) and the Unicode line and
# paragraph separators.
_BREAKING = frozenset({"Cc", "Zl", "Zp"})


def _first_breaking(value: str) -> tuple[int, str] | None:
    for at, char in enumerate(value):
        if unicodedata.category(char) in _BREAKING:
            return at, char
    return None


@deconstructible
class SingleLineValidator:
    """Refuses text with a line break or another control character (`single_line`)."""

    code = "single_line"

    def __call__(self, value: Any) -> None:
        found = _first_breaking(str(value))
        if found is None:
            return
        at, char = found
        raise ValidationError(
            "Must be a single line: no line breaks or control characters "
            "(found U+%(code)04X at position %(at)d).",
            code=self.code,
            params={"code": ord(char), "at": at + 1},
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SingleLineValidator)

    def __hash__(self) -> int:
        return hash(self.code)


validate_single_line = SingleLineValidator()


class SingleLineFormField(forms.CharField):
    """A form's one-line text field: refuses line breaks and control characters."""

    default_validators = [validate_single_line]


@deconstructible
class SendableEmailValidator:
    """Refuses an address no email can be sent to: Django's email syntax allows any
    character above U+00A0 in the domain, but a line separator (U+2028), a private-use
    or non-character there makes the `To` header fail when the message is built, long
    after the API said yes. The address is put in a header as sending does."""

    code = "invalid_email"

    def __call__(self, value: Any) -> None:
        validate_single_line(value)
        try:
            EmailMessage(to=[str(value)]).message()
        except (ValueError, UnicodeError):
            raise ValidationError("No email can be sent to this address.", code=self.code) from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SendableEmailValidator)

    def __hash__(self) -> int:
        return hash(self.code)


validate_sendable_email = SendableEmailValidator()


class SendableEmailFormField(forms.EmailField):
    """A form's email address that an email can be sent to."""

    default_validators = [*forms.EmailField.default_validators, validate_sendable_email]


def one_line(value: str) -> str:
    """`value` with every line break or control character turned into a space: for text
    written into a header that may predate the validation (an old ticket's subject)."""
    text = "".join(" " if unicodedata.category(c) in _BREAKING else c for c in value)
    return " ".join(text.split())
