"""The portal's forms. Signup asks for the company as well as the person: it creates the
vendor (pending until an operator approves it) with the person as its owner."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.http import HttpRequest

from catalogue.models import Country
from ttelgo.errors import DomainError
from ttelgo.outbox import EVENT_TYPES
from ttelgo.validators import SendableEmailFormField, SingleLineFormField
from vendors.members import vendor_signup_with_owner
from vendors.models import Vendor


def _country_choices() -> list[tuple[str, str]]:
    """The catalogue's countries by name (a fresh install before its first catalogue
    sync has none: then the field takes the two-letter code)."""
    return [("", "Choose a country"), *Country.objects.order_by("name").values_list("iso", "name")]


class CountryField(forms.RegexField):
    """A country picker (the catalogue's countries); the value is the ISO code."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(regex=r"^[A-Za-z]{2}$", **kwargs)

    def to_python(self, value: Any) -> str:
        return str(super().to_python(value)).strip().upper()

    def validate(self, value: Any) -> None:
        super().validate(value)
        known = {iso for iso, _name in getattr(self.widget, "choices", []) if iso}
        if known and value not in known:
            raise forms.ValidationError("Choose a country from the list.", code="invalid_choice")


class VendorSignupForm(forms.Form):
    # Each field's error under that field (Django's default puts it above the label).
    template_name_p = "portal/forms/p.html"

    company_name = SingleLineFormField(max_length=200, label="Company name")
    country = CountryField(label="Country", error_messages={"invalid": "Two letters, e.g. GB."})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = _country_choices()
        if len(choices) > 1:
            self.fields["country"].widget = forms.Select(choices=choices)
        else:
            self.fields["country"].label = "Country (ISO code, e.g. GB)"

    billing_mode = forms.ChoiceField(
        choices=Vendor.BillingMode.choices,
        label="How you pay us",
        help_text="prepaid: a wallet you top up; postpaid: a credit line, invoiced monthly",
    )

    def signup(self, request: HttpRequest, user: Any) -> None:
        """Called by django-allauth once the user exists (same transaction)."""
        try:
            vendor_signup_with_owner(
                user=user,
                company_name=self.cleaned_data["company_name"],
                country=self.cleaned_data["country"],
                billing_mode=self.cleaned_data["billing_mode"],
            )
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=50, label="Name", help_text="e.g. booking site")
    mode = forms.ChoiceField(
        choices=[("live", "Live"), ("test", "Test")],
        label="Mode",
        help_text="a test key (ttg_test_…) works on your test environment only",
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires (optional)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


class BrandForm(forms.Form):
    display_name = SingleLineFormField(max_length=100, label="Name your customers see")
    logo_url = forms.URLField(max_length=500, required=False, assume_scheme="https")
    primary_color = forms.RegexField(
        regex=r"^#[0-9a-fA-F]{6}$",
        initial="#2563eb",
        widget=forms.TextInput(attrs={"type": "color"}),
        error_messages={"invalid": "A colour as #rrggbb."},
    )
    support_email = SendableEmailFormField(required=False)
    support_url = forms.URLField(max_length=500, required=False, assume_scheme="https")
    topup_url = forms.URLField(
        max_length=500, required=False, assume_scheme="https", label="Top-up page URL"
    )
    sender_name = SingleLineFormField(max_length=100, required=False, label="Email sender name")


class TaxDetailsForm(forms.Form):
    """Where the vendor is established and its VAT number (checked with the EU's VIES
    service when saved; a number it does not know is refused under its field)."""

    template_name_p = "portal/forms/p.html"

    country = CountryField(label="Country", error_messages={"invalid": "Two letters, e.g. DE."})
    vat_number = SingleLineFormField(
        max_length=20,
        required=False,
        label="VAT number",
        help_text="an EU VAT number (with or without its country prefix); leave empty if none",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = _country_choices()
        if len(choices) > 1:
            self.fields["country"].widget = forms.Select(choices=choices)
        else:
            self.fields["country"].label = "Country (ISO code, e.g. DE)"


class TicketForm(forms.Form):
    subject = SingleLineFormField(max_length=200)
    body = forms.CharField(
        label="Message", widget=forms.Textarea(attrs={"rows": 5}), max_length=10000
    )
    iccid = forms.CharField(max_length=22, required=False, label="eSIM ICCID (optional)")


def _event_choices() -> list[tuple[str, str]]:
    return [("*", "all events"), *((t, t) for t in EVENT_TYPES)]


class EndpointForm(forms.Form):
    url = forms.URLField(max_length=2000, assume_scheme="https", label="URL (https)")
    events = forms.MultipleChoiceField(
        choices=_event_choices, widget=forms.CheckboxSelectMultiple, label="Events"
    )


def _zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone.replace("_", " ")) for zone in sorted(available_timezones())]


class TimezoneForm(forms.Form):
    """The zone the portal shows times in (UTC until the vendor picks one)."""

    timezone = forms.ChoiceField(
        choices=_zone_choices,
        label="Time zone",
        help_text="Every time in the portal is shown in this zone, with its name.",
    )
