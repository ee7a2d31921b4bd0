"""Account services (customers and operators)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from ttelgo.errors import DomainError
from ttelgo.models import User
from ttelgo.tax import VatAssessment, vat_number_assess, vat_number_verify


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


def country_code_check(country: str, *, field: str = "country") -> str:
    """An ISO 3166 two-letter code, upper case ("" allowed: not known)."""
    country = (country or "").strip().upper()
    if country and (len(country) != 2 or not country.isalpha()):
        raise DomainError(
            "validation_error",
            "The country is an ISO 3166 two-letter code.",
            details={field: ["Two letters, such as DE."]},
        )
    return country


def vat_number_assess_strict(*, country: str, vat_number: str) -> VatAssessment:
    """Validate a VAT number someone is typing in (a form, the API): a number the service
    says is not one of `country`'s businesses, or of the wrong shape, is refused
    (validation_error under `vat_number`); one the service cannot check now is taken
    and recorded as not validated. An HTTP call: never inside a transaction."""
    checked = vat_number_assess(country=country, vat_number=vat_number)
    if checked.problem:
        raise DomainError(
            "validation_error", checked.problem, details={"vat_number": [checked.problem]}
        )
    return checked


def user_tax_details_set(
    *, user: User, country: str, vat_number: str = "", strict: bool = False
) -> User:
    """Record where a customer is and, for a business, its VAT number, validated now (an
    HTTP call, before the row is written). Taxes their later sales (ttelgo/tax.py).
    `strict` (the API): a number that does not validate is refused rather than recorded
    as not validated."""
    country = country_code_check(country)
    if strict:
        checked = vat_number_assess_strict(country=country, vat_number=vat_number)
        number, valid = checked.recorded, checked.valid
    else:
        number, valid = vat_number_verify(country=country, vat_number=vat_number)
    User.objects.filter(pk=user.pk).update(
        country=country, vat_number=number, vat_number_valid=valid
    )
    user.country, user.vat_number, user.vat_number_valid = country, number, valid
    return user
