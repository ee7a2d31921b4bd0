"""Support tickets in the console: the open ones first, the conversation, and an answer
form (the customer or vendor is emailed the answer)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action

from support.models import Ticket, TicketMessage
from support.services import operator_ticket_answer
from ttelgo.admin_console import ReadOnlyAdminMixin, operator_form


class AnswerForm(forms.Form):
    body = forms.CharField(
        label="Answer", widget=forms.Textarea(attrs={"rows": 6}), max_length=10000
    )
    close = forms.BooleanField(required=False, label="Close the ticket with this answer")


class MessageInline(ReadOnlyAdminMixin, TabularInline):
    model = TicketMessage
    extra = 0
    fields = ("created_at", "author", "operator", "body")
    readonly_fields = fields


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("id", "subject", "status", "requester", "order", "iccid", "updated_at")
    list_filter = ("status",)
    search_fields = ("subject", "=iccid", "=order__id", "customer__email", "vendor__name")
    list_select_related = ("customer", "vendor", "order")
    readonly_fields = [f.name for f in Ticket._meta.fields]
    inlines = (MessageInline,)
    actions_detail = ("answer_detail",)
    ordering = ("status", "-updated_at")

    def has_answer_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("ttelgo.answer_tickets"))

    @admin.display(description="from")
    def requester(self, obj: Ticket) -> str:
        if obj.customer_id:
            return str(obj.customer.email)  # type: ignore[union-attr]
        return f"vendor: {obj.vendor}"

    @action(description="Answer", url_path="answer", permissions=["answer"], icon="reply")
    def answer_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        ticket = Ticket.objects.get(pk=object_id)

        def perform(form: forms.Form) -> str:
            operator_ticket_answer(
                ticket_id=ticket.pk,
                actor=request.user,
                body=form.cleaned_data["body"],
                close=form.cleaned_data["close"],
            )
            return f"Ticket #{ticket.pk} answered; {self.requester(ticket)} was emailed."

        last = ticket.messages.order_by("-created_at").first()
        return operator_form(
            request,
            model_admin=self,  # type: ignore[arg-type]
            obj=ticket,
            form_class=AnswerForm,
            title=f"Answer ticket #{ticket.pk}",
            submit_label="Send the answer",
            perform=perform,
            summary=[
                ("From", self.requester(ticket)),
                ("Subject", ticket.subject),
                ("Order", ticket.order_id or "-"),
                ("Last message", last.body if last else "-"),
            ],
        )
