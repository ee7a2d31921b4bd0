"""Account services (customers and operators)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from ttelgo.errors import DomainError
from ttelgo.models import User
from ttelgo.tax import vat_number_verify


def user_register(*, email: str, password: str, language: str = "en") -> User:
    """Create a customer account. Weak passwords and taken emails are validation errors."""
    email = User.objects.normalize_email(email).lower()
    try:
        validate_password(password, user=User(email=email))
    except DjangoValidationError as exc:
        raise DomainError(
            "validation_error", "The password is too weak.", details={"password": exc.messages}
        ) from None
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, language=language)
    except IntegrityError:
        raise DomainError(
            "validation_error",
            "An account with this email already exists.",
            details={"email": ["An account with this email already exists."]},
        ) from None


def user_flag(*, user_id: int, reason: str) -> None:
    """Mark a customer for review (disputes, fraud). Keeps the first flag time."""
    from django.db.models import Q
    from django.utils import timezone

    User.objects.filter(Q(pk=user_id) & Q(flagged_at__isnull=True)).update(
        flagged_at=timezone.now(), flag_reason=reason[:255]
    )


def user_language_set(*, user: User, language: str) -> User:
    if language not in dict(settings.LANGUAGES):
        raise DomainError(
            "validation_error",
            "Unknown language.",
            details={"language": [f"One of {', '.join(dict(settings.LANGUAGES))}."]},
        )
    User.objects.filter(pk=user.pk).update(language=language)
    user.language = language
    return user


def user_tax_details_set(*, user: User, country: str, vat_number: str = "") -> User:
    """Record where a customer is and, for a business, its VAT number, validated now (an
    HTTP call, before the row is written). Taxes their later sales (ttelgo/tax.py)."""
    country = country.upper()
    if country and (len(country) != 2 or not country.isalpha()):
        raise DomainError(
            "validation_error",
            "The country is an ISO 3166 two-letter code.",
            details={"country": ["Two letters, such as DE."]},
        )
    number, valid = vat_number_verify(country=country, vat_number=vat_number)
    User.objects.filter(pk=user.pk).update(
        country=country, vat_number=number, vat_number_valid=valid
    )
    user.country, user.vat_number, user.vat_number_valid = country, number, valid
    return user
