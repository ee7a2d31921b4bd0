"""Support tickets in the console: a queue (waiting longest first, with the SLA clock and
the assignee), the conversation with the eSIM's and order's state beside it, an answer
form (the customer or vendor is emailed, with a reply link and address), internal notes
and "assign to me"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action

from fulfilment.models import Esim
from support.models import Ticket, TicketMessage
from support.services import operator_ticket_answer, operator_ticket_assign, operator_ticket_note
from ttelgo.admin.console import ReadOnlyAdminMixin, operator_form


class AnswerForm(forms.Form):
    body = forms.CharField(
        label="Answer", widget=forms.Textarea(attrs={"rows": 6}), max_length=10000
    )
    close = forms.BooleanField(required=False, label="Close the ticket with this answer")


class NoteForm(forms.Form):
    body = forms.CharField(
        label="Internal note (not sent to the requester)",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=10000,
    )


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_staff=True, is_active=True).order_by("email"),
        label="Operator",
    )


class MessageInline(ReadOnlyAdminMixin, TabularInline):
    model = TicketMessage
    extra = 0
    fields = ("created_at", "author", "via", "operator", "body", "email_status", "email_error")
    readonly_fields = fields


def sla_text(ticket: Ticket, now: Any = None) -> str:
    """Time left to answer (SUPPORT_SLA_HOURS from the requester's waiting message)."""
    if ticket.waiting_since is None:
        return "answered" if ticket.status != Ticket.Status.CLOSED else "closed"
    due = ticket.waiting_since + timedelta(hours=settings.SUPPORT_SLA_HOURS)
    left = due - (now or timezone.now())
    hours, rest = divmod(abs(int(left.total_seconds())), 3600)
    span = f"{hours} h {rest // 60:02d} min"
    return f"{span} left" if left.total_seconds() >= 0 else f"overdue by {span}"


def _email_outcome(answer: TicketMessage, requester: str) -> str:
    """What became of the answer's email, as the operator is told after answering."""
    if answer.email_status == TicketMessage.Email.SENT:
        return f"{requester} was emailed."
    if answer.email_status == TicketMessage.Email.FAILED:
        return (
            f"The answer could not be emailed to {requester} ({answer.email_error}); "
            "the ticket is back in the queue."
        )
    if answer.email_status == TicketMessage.Email.QUEUED:
        return f"the email to {requester} is on its way."
    return "the requester has no email address: nothing was sent."


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = (
        "id",
        "subject",
        "status",
        "sla",
        "assignee",
        "requester",
        "mode",
        "answer_email",
        "order",
        "iccid",
        "updated_at",
    )
    list_filter = ("status", "livemode", ("assignee", admin.RelatedOnlyFieldListFilter))
    search_fields = ("subject", "=iccid", "=order__id", "customer__email", "vendor__name")
    list_select_related = ("customer", "vendor", "order", "assignee")
    readonly_fields = (
        *[f.name for f in Ticket._meta.fields],
        "mode",
        "answer_email",
        "sla",
        "esim_state",
        "order_state",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "subject",
                    "status",
                    "mode",
                    "answer_email",
                    "sla",
                    "assignee",
                    "language",
                )
            },
        ),
        ("Requester", {"fields": ("customer", "vendor", "created_at", "updated_at")}),
        ("About", {"fields": ("order", "order_state", "iccid", "esim_state")}),
    )
    inlines = (MessageInline,)
    actions_detail = ("answer_detail", "note_detail", "assign_detail")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Ticket]:
        # Waiting longest first, then the rest by their last change.
        last_answer = TicketMessage.objects.filter(
            ticket=OuterRef("pk"), author=TicketMessage.Author.OPERATOR
        ).order_by("-created_at", "-id")
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_answer_email=Subquery(last_answer.values("email_status")[:1]),
                last_answer_error=Subquery(last_answer.values("email_error")[:1]),
            )
            .order_by(F("waiting_since").asc(nulls_last=True), "-updated_at")
        )

    def has_answer_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("ttelgo.answer_tickets"))

    @admin.display(description="from")
    def requester(self, obj: Ticket) -> str:
        if obj.customer_id:
            return str(obj.customer.email)  # type: ignore[union-attr]
        return f"vendor: {obj.vendor}"

    @admin.display(description="mode", ordering="livemode")
    def mode(self, obj: Ticket) -> str:
        """A vendor's test-mode ticket is about its test environment's orders and eSIMs."""
        return "live" if obj.livemode else "test"

    @admin.display(description="last answer email")
    def answer_email(self, obj: Ticket) -> str:
        """Whether the latest answer reached the requester: "failed: <why>" stands out."""
        status = getattr(obj, "last_answer_email", None) or ""
        if status == TicketMessage.Email.FAILED:
            return f"failed: {getattr(obj, 'last_answer_error', '')}"
        return status or "-"

    @admin.display(description="SLA")
    def sla(self, obj: Ticket) -> str:
        return sla_text(obj)

    @admin.display(description="eSIM now")
    def esim_state(self, obj: Ticket) -> str:
        esim = Esim.objects.filter(iccid=obj.iccid).first() if obj.iccid else None
        if esim is None:
            return "-"
        usage = (
            "unlimited" if esim.unlimited else f"{esim.remaining_mb} of {esim.initial_mb} MB left"
        )
        events = ", ".join(esim.events_sent or []) or "none yet"
        return format_html(
            "{} · {} · expires {}<br>lifecycle events: {}",
            esim.status,
            usage,
            esim.expires_at.date() if esim.expires_at else "from first use",
            events,
        )

    @admin.display(description="order now")
    def order_state(self, obj: Ticket) -> str:
        if obj.order is None:
            return "-"
        url = reverse("admin:orders_order_change", args=[obj.order_id])
        events = obj.order.events.order_by("-created_at")[:5]
        lines = format_html_join(
            "", "<br>{} → {} {}", ((e.created_at.date(), e.to_status, e.reason) for e in events)
        )
        return format_html(
            '<a href="{}">order {}</a> · {}{}', url, obj.order_id, obj.order.status, lines
        )

    @action(description="Answer", url_path="answer", permissions=["answer"], icon="reply")
    def answer_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        ticket = Ticket.objects.get(pk=object_id)

        def perform(form: forms.Form) -> str:
            answer = operator_ticket_answer(
                ticket_id=ticket.pk,
                actor=request.user,
                body=form.cleaned_data["body"],
                close=form.cleaned_data["close"],
            )
            answer.refresh_from_db()
            outcome = _email_outcome(answer, self.requester(ticket))
            if answer.email_status == TicketMessage.Email.FAILED:
                self.message_user(request, outcome, messages.ERROR)
                return f"Ticket #{ticket.pk}: the answer is saved."
            return f"Ticket #{ticket.pk} answered; {outcome}"

        last = (
            ticket.messages.exclude(author=TicketMessage.Author.NOTE)
            .order_by("-created_at")
            .first()
        )
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
                ("Mode", self.mode(ticket)),
                ("Subject", ticket.subject),
                ("Order", ticket.order_id or "-"),
                ("Last message", last.body if last else "-"),
            ],
        )

    @action(description="Internal note", url_path="note", permissions=["answer"], icon="edit_note")
    def note_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        ticket = Ticket.objects.get(pk=object_id)

        def perform(form: forms.Form) -> str:
            operator_ticket_note(
                ticket_id=ticket.pk, actor=request.user, body=form.cleaned_data["body"]
            )
            return f"Note added to ticket #{ticket.pk} (not sent)."

        return operator_form(
            request,
            model_admin=self,  # type: ignore[arg-type]
            obj=ticket,
            form_class=NoteForm,
            title=f"Internal note on ticket #{ticket.pk}",
            submit_label="Add the note",
            perform=perform,
            summary=[("From", self.requester(ticket)), ("Subject", ticket.subject)],
        )

    @action(description="Assign", url_path="assign", permissions=["answer"], icon="person")
    def assign_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        ticket = Ticket.objects.get(pk=object_id)

        def perform(form: forms.Form) -> str:
            assignee = form.cleaned_data["assignee"]
            operator_ticket_assign(ticket_id=ticket.pk, actor=request.user, assignee=assignee)
            return f"Ticket #{ticket.pk} is assigned to {assignee}."

        return operator_form(
            request,
            model_admin=self,  # type: ignore[arg-type]
            obj=ticket,
            form_class=AssignForm,
            title=f"Assign ticket #{ticket.pk}",
            submit_label="Assign",
            perform=perform,
            initial={"assignee": request.user.pk},
            summary=[("Subject", ticket.subject), ("Now", ticket.assignee or "nobody")],
        )
