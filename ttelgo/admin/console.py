"""Console helpers shared by the apps' admin screens: the operator form page (a reason
and whatever else an action needs, on its own page rather than a modal) and turning a
service's refusal into an admin message."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.contrib.admin import AllValuesFieldListFilter, ModelAdmin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections, models
from django.db.models import QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.functional import cached_property
from unfold.decorators import display
from unfold.widgets import (
    CHECKBOX_CLASSES,
    INPUT_CLASSES,
    SELECT_CLASSES,
    TEXTAREA_CLASSES,
    UnfoldAdminDecimalFieldWidget,
)

from ttelgo.errors import DomainError
from ttelgo.money import Money, exponent


class ReadOnlyAdminMixin:
    """For admins and inlines of records that change only through services: no add,
    change or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Below this many rows (PostgreSQL's estimate) a list is counted exactly.
ESTIMATE_COUNT_ABOVE = 100_000


class EstimatedCountPaginator(Paginator):
    """Pages of a table that grows without bound: when PostgreSQL's planner estimates the
    list (filtered or not) at more than `ESTIMATE_COUNT_ABOVE` rows, its count is that
    estimate (`EXPLAIN`, from the statistics ANALYZE and autovacuum keep), instead of a
    `COUNT(*)` that reads every matching row; a smaller list, and any other database, is
    counted exactly. The operator sees "about" a number of a million, not its last digit."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if isinstance(queryset, QuerySet):
            connection = connections[queryset.db]
            if connection.vendor == "postgresql":
                sql, params = queryset.order_by().query.sql_with_params()
                with connection.cursor() as cursor:
                    cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
                    plan = cursor.fetchone()[0]
                if isinstance(plan, str):
                    plan = json.loads(plan)
                estimate = int(plan[0]["Plan"]["Plan Rows"])
                if estimate >= ESTIMATE_COUNT_ABOVE:
                    return estimate
        return super().count


class RecentValuesFieldListFilter(AllValuesFieldListFilter):
    """A filter by a free-text column's values (an event type, an audit action) on a big
    table: its choices are the values among the newest `RECENT_ROWS` rows (a primary-key
    range), not a `SELECT DISTINCT` over millions of rows on every list view. A value only
    older rows have is still filtered by its URL."""

    RECENT_ROWS = 10_000

    def __init__(
        self,
        field: Any,
        request: HttpRequest,
        params: Any,
        model: Any,
        model_admin: Any,
        field_path: str,
    ) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        # The primary key of the RECENT_ROWS-th newest row, as a subquery: the choices are
        # then a range read of the primary key (an IN list would make PostgreSQL hash it).
        floor = model._default_manager.order_by("-pk").values("pk")[
            self.RECENT_ROWS - 1 : self.RECENT_ROWS
        ]
        self.lookup_choices = (
            model._default_manager.filter(pk__gte=Coalesce(Subquery(floor), Value(0)))
            .exclude(**{f"{field_path}__isnull": True})
            .order_by(field_path)
            .values_list(field_path, flat=True)
            .distinct()
        )


class LargeTableAdminMixin:
    """For the lists of tables that reach millions of rows (orders, eSIMs, ledger, webhook
    traffic, audit): no second `COUNT(*)` of the whole table beside a filtered one, a big
    list's count estimated (`EstimatedCountPaginator`), and 50 rows a page."""

    paginator: Any = EstimatedCountPaginator
    show_full_result_count = False
    # Rendering a row costs ~1 ms of template per column on our 2 cores (unfold's cells
    # and row actions): 50 rows keep a page well inside its 300 ms.
    list_per_page = 50


class LivemodeColumnMixin:
    """A `mode` column for lists that hold both live and test-mode rows: test rows carry
    an orange "test" label (two `platform:revenue:USD` accounts no longer look alike);
    the list filters on `livemode` too."""

    @display(description="mode", ordering="livemode", label={"live": "success", "test": "warning"})
    def mode(self, obj: Any) -> str:
        return "live" if obj.livemode else "test"


def money_text(amount: int | None, currency: str) -> str:
    """An amount of minor units as an operator reads it: major units, thousands separated,
    with the currency ("1,234.50 USD"); "-" when there is none."""
    if amount is None:
        return "-"
    return str(Money(amount, currency))


def _currency_of(obj: Any, source: str | Callable[[Any], str]) -> str:
    if callable(source):
        return source(obj)
    value: Any = obj
    for part in source.split("."):
        value = getattr(value, part)
    return str(value)


class MoneyColumnsMixin:
    """Integer money columns (minor units) shown in major units with their currency.

    Name them in `money_fields` (column -> where its currency is: an attribute, a dotted
    path such as "account.currency", or a callable) and use the column names as usual in
    `list_display`, `fields`, `fieldsets` and `readonly_fields`: wherever a named column
    is shown rather than edited, its major-unit display (`money_<column>`) takes its place.
    A column the operator edits uses `MinorUnitsField` in the form instead."""

    money_fields: ClassVar[dict[str, str | Callable[[Any], str]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, source in cls.money_fields.items():
            setattr(cls, f"money_{name}", cls._money_display(name, source))

    @staticmethod
    def _money_display(name: str, source: str | Callable[[Any], str]) -> Any:
        def show(self: Any, obj: Any) -> str:
            return money_text(getattr(obj, name), _currency_of(obj, source))

        show.short_description = name.replace("_", " ")  # type: ignore[attr-defined]
        show.admin_order_field = name  # type: ignore[attr-defined]
        return show

    def _money_shown(self, request: HttpRequest, obj: Any) -> set[str]:
        """The money columns shown rather than edited on this page."""
        if not self.has_change_permission(request, obj):  # type: ignore[attr-defined]
            return set(self.money_fields)
        base = super().get_readonly_fields(request, obj)  # type: ignore[misc]
        return {name for name in base if name in self.money_fields}

    def _money_swap(self, names: Any, shown: set[str]) -> Any:
        swapped: list[Any] = []
        for name in names or ():
            if isinstance(name, (list, tuple)):
                swapped.append(tuple(self._money_swap(name, shown)))
            elif isinstance(name, str) and name in shown:
                swapped.append(f"money_{name}")
            else:
                swapped.append(name)
        return swapped

    def get_list_display(self, request: HttpRequest) -> Any:
        names = super().get_list_display(request)  # type: ignore[misc]
        return self._money_swap(names, set(self.money_fields))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        base = super().get_readonly_fields(request, obj)  # type: ignore[misc]
        return self._money_swap(base, self._money_shown(request, obj))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = super().get_fields(request, obj)  # type: ignore[misc]
        # A shown column can come twice: from the form and from the read-only list.
        return list(dict.fromkeys(self._money_swap(fields, self._money_shown(request, obj))))

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        shown = self._money_shown(request, obj)
        return [
            (title, {**options, "fields": self._money_swap(options.get("fields", ()), shown)})
            for title, options in super().get_fieldsets(request, obj)  # type: ignore[misc]
        ]


class MinorUnitsField(forms.DecimalField):
    """A money column (minor units) entered in major units of `currency`: the form shows
    1,234.50 for 123450 and saves 123450 for "1234.50"."""

    def __init__(self, *, currency: str, **kwargs: Any) -> None:
        self.currency = currency
        kwargs.setdefault("decimal_places", exponent(currency))
        kwargs.setdefault("label", None)
        kwargs.setdefault("widget", UnfoldAdminDecimalFieldWidget)
        super().__init__(**kwargs)
        if self.label:
            self.label = f"{self.label} ({currency})"

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return Money(value, self.currency).to_decimal()
        return value

    def clean(self, value: Any) -> int | None:  # type: ignore[override]
        decimal = super().clean(value)
        if decimal is None:
            return None
        return Money.from_decimal(decimal, self.currency).amount


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


def change_url(obj: models.Model) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def require_perm(request: HttpRequest, *perms: str) -> None:
    """403 unless the operator holds one of `perms` (the service checks again)."""
    if not any(request.user.has_perm(p) for p in perms):
        raise PermissionDenied


def console_styled(form: forms.Form) -> forms.Form:
    """Give a plain Django form's inputs the console's look (bordered boxes, as on every
    admin change form): the widgets get unfold's classes for their kind."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            classes = CHECKBOX_CLASSES
        elif isinstance(widget, forms.Textarea):
            classes = TEXTAREA_CLASSES
        elif isinstance(widget, forms.Select):
            classes = SELECT_CLASSES
        else:
            classes = INPUT_CLASSES
        current = widget.attrs.get("class", "")
        widget.attrs["class"] = " ".join([current, *classes]).strip()
    return form


def operator_form(
    request: HttpRequest,
    *,
    model_admin: ModelAdmin[Any],
    obj: models.Model | None,
    form_class: type[forms.Form],
    title: str,
    submit_label: str,
    perform: Callable[[forms.Form], str | tuple[str, str]],
    summary: Sequence[tuple[str, Any]] = (),
    initial: dict[str, Any] | None = None,
    redirect_to: str | None = None,
    confirm: Callable[[forms.Form], str] | None = None,
) -> HttpResponse:
    """GET: the form. POST: validate, `perform(form)` (returns the success message, or the
    message and where to go next), and go back to the object; a DomainError from the
    service is shown on the form instead. With `confirm`, a valid form first shows the
    sentence `confirm(form)` returns ("Refund 4.50 USD ...?") and its values, and only the
    operator's second click performs it."""
    back = redirect_to or (change_url(obj) if obj is not None else "../")
    form = form_class(request.POST if request.method == "POST" else None, initial=initial)
    console_styled(form)
    confirmation = ""
    posted = request.method == "POST" and form.is_valid()
    if posted and confirm is not None and "_confirmed" not in request.POST:
        confirmation = confirm(form)
    if request.method == "POST" and form.is_valid() and not confirmation:
        try:
            result = perform(form)
        except DomainError as exc:
            form.add_error(None, exc.message)  # words for the operator, not the API's code
        else:
            message, back = result if isinstance(result, tuple) else (result, back)
            model_admin.message_user(request, message, messages.SUCCESS)
            return HttpResponseRedirect(back)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "form_title": title,
        "form": form,
        "submit_label": submit_label,
        "confirmation": confirmation,
        "summary": list(summary),
        "summary_title": str(obj) if obj is not None else title,
        "cancel_url": change_url(obj) if obj is not None else back,
        "opts": model_admin.model._meta,
        "original": obj,
    }
    return TemplateResponse(request, "admin/console/operator_form.html", context)


def run_service(model_admin: ModelAdmin[Any], request: HttpRequest, fn: Callable[[], str]) -> bool:
    """Run one operator action from a list/detail action; report success or refusal."""
    try:
        message = fn()
    except DomainError as exc:
        model_admin.message_user(request, exc.message, messages.ERROR)
        return False
    model_admin.message_user(request, message, messages.SUCCESS)
    return True


def run_service_each(
    model_admin: ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    fn: Callable[[int], str],
) -> None:
    """A bulk action: `fn(pk)` for each selected row in primary-key order, each reported
    on its own (one refusal does not stop the others)."""
    for pk in queryset.order_by("pk").values_list("pk", flat=True):
        run_service(model_admin, request, partial(fn, pk))
