"""Ledger admin: read-only accounts, transactions, entries and holds, and a trial balance.
Invoices are the billing app's."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from unfold.admin import ModelAdmin, TabularInline

from ledger.models import Account, Entry, Hold, Transaction
from ledger.selectors import account_balance, trial_balance
from ttelgo.admin.console import (
    LargeTableAdminMixin,
    MoneyColumnsMixin,
    ReadOnlyAdminMixin,
    RecentValuesFieldListFilter,
)
from ttelgo.money import Money


def _money(amount: int | None, currency: str) -> str:
    return "" if amount is None else str(Money(amount, currency))


@admin.register(Account)
class AccountAdmin(LargeTableAdminMixin, MoneyColumnsMixin, ReadOnlyAdminMixin, ModelAdmin):
    money_fields = {
        "balance": "currency",
        "held": "currency",
        "floor": "currency",
        "ceiling": "currency",
    }
    list_display = ("__str__", "type", "normal", "balance_display", "held_display", "bounds")
    list_filter = ("owner", "purpose", "currency", "type")
    search_fields = ("=holder", "purpose")

    @admin.display(description="balance", ordering="balance")
    def balance_display(self, obj: Account) -> str:
        if obj.balance is None:  # a platform account: the sum of its entries
            return str(account_balance(account=obj))
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
