"""Ledger admin: read-only accounts, transactions, entries and holds, and a trial balance.
Invoices are the billing app's."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import BigIntegerField, Case, OuterRef, QuerySet, Subquery, Sum, When
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from unfold.admin import ModelAdmin, TabularInline

from ledger.models import Account, Entry, Hold, NormalSide, Transaction
from ledger.selectors import trial_balance
from ttelgo.admin.console import (
    LargeTableAdminMixin,
    LivemodeColumnMixin,
    MoneyColumnsMixin,
    ReadOnlyAdminMixin,
    RecentValuesFieldListFilter,
)
from ttelgo.money import Money


def _money(amount: int | None, currency: str) -> str:
    return "" if amount is None else str(Money(amount, currency))


@admin.register(Account)
class AccountAdmin(
    LivemodeColumnMixin, LargeTableAdminMixin, MoneyColumnsMixin, ReadOnlyAdminMixin, ModelAdmin
):
    money_fields = {
        "balance": "currency",
        "held": "currency",
        "floor": "currency",
        "ceiling": "currency",
    }
    list_display = (
        "__str__",
        "mode",
        "type",
        "normal",
        "balance_display",
        "held_display",
        "bounds",
    )
    list_filter = ("owner", "purpose", "currency", "type", "livemode")
    search_fields = ("=holder", "purpose")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Account]:
        """A platform account caches no balance: the sum of its entries is read with the
        page (one query however many platform accounts the chart grows to); a vendor
        account's cached balance is read as is, its entries never summed."""
        entries_total = (
            Entry.objects.filter(account=OuterRef("pk"))
            .order_by()
            .values("account")
            .annotate(total=Sum("amount"))
            .values("total")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                entries_total=Case(
                    When(balance__isnull=True, then=Subquery(entries_total)),
                    output_field=BigIntegerField(),
                )
            )
        )

    @admin.display(description="balance", ordering="balance")
    def balance_display(self, obj: Account) -> str:
        if obj.balance is None:  # a platform account: the sum of its entries
            total = int(getattr(obj, "entries_total", None) or 0)
            return _money(total if obj.normal == NormalSide.DEBIT else -total, obj.currency)
        return _money(obj.balance, obj.currency)

    @admin.display(description="held", ordering="held")
    def held_display(self, obj: Account) -> str:
        return _money(obj.held, obj.currency)

    @admin.display(description="floor / ceiling")
    def bounds(self, obj: Account) -> str:
        return (
            f"{_money(obj.floor, obj.currency) or '-'} / {_money(obj.ceiling, obj.currency) or '-'}"
        )

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "trial-balance/",
                self.admin_site.admin_view(self.trial_balance_view),
                name="ledger_trial_balance",
            )
        ]
        return extra + super().get_urls()

    def trial_balance_view(self, request: HttpRequest) -> HttpResponse:
        tb = trial_balance()
        context = {
            **self.admin_site.each_context(request),
            "title": "Trial balance",
            "rows": [
                {
                    "account": str(r.account),
                    "type": r.account.type,
                    "debit": _money(r.debit, r.account.currency) if r.debit else "",
                    "credit": _money(r.credit, r.account.currency) if r.credit else "",
                }
                for r in tb.rows
            ],
            "totals": [
                {"currency": cur, "debit": _money(d, cur), "credit": _money(c, cur)}
                for cur, (d, c) in tb.totals.items()
            ],
            "balanced": tb.balanced,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/ledger/trial_balance.html", context)


class EntryInline(MoneyColumnsMixin, ReadOnlyAdminMixin, TabularInline):
    money_fields = {"amount": "account.currency", "balance_after": "account.currency"}
    model = Entry
    fields = ("account", "amount", "balance_after", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Transaction)
class TransactionAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("id", "reference", "kind", "order_id", "actor", "created_at")
    list_filter = (("kind", RecentValuesFieldListFilter), ("created_at", admin.DateFieldListFilter))
    search_fields = ("reference", "description", "order_id")
    show_full_result_count = False
    inlines = [EntryInline]
    readonly_fields = [f.name for f in Transaction._meta.fields]


@admin.register(Hold)
class HoldAdmin(LargeTableAdminMixin, MoneyColumnsMixin, ReadOnlyAdminMixin, ModelAdmin):
    money_fields = {"amount": "account.currency", "captured_amount": "account.currency"}
    list_display = ("reference", "account", "amount", "status", "order_id", "created_at")
    list_filter = ("status",)
    search_fields = ("reference", "order_id")
    readonly_fields = [f.name for f in Hold._meta.fields]
