"""What the portal's lists share: pages of 50 with the filters kept in the links, date
ranges that read the right way round, and CSV downloads."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime, time
from typing import Any

from django import forms
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

PAGE_SIZE = 50


def paginate(request: HttpRequest, items: Any) -> tuple[Page, str]:
    """The requested page and the query string of the other filters (for page links)."""
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


def csv_response(filename: str, header: list[str], rows: Iterable[list[Any]]) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def yes_no(value: bool) -> str:
    return "true" if value else "false"


class DateRangeForm(forms.Form):
    """`start` and `end` dates, both optional; an end before the start is an error."""

    start = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", "The end is before the start.")
        return data

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """The range as aware datetimes: the start of its first day, the end of its last."""
        zone = timezone.get_current_timezone()
        start, end = self.cleaned_data.get("start"), self.cleaned_data.get("end")
        return (
            datetime.combine(start, time.min, zone) if start else None,
            datetime.combine(end, time.max, zone) if end else None,
        )
