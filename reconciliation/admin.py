"""Reconciliation in the console: run it now, read the findings, fix each one, export CSV."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action, display

from reconciliation.models import ReconciliationFinding, ReconciliationRun
from reconciliation.state import FINDING_STATES
from ttelgo.admin.console import ReadOnlyAdminMixin, change_url, operator_form, require_perm
from ttelgo.errors import DomainError

F = ReconciliationFinding


class FindingInline(ReadOnlyAdminMixin, TabularInline):
    model = ReconciliationFinding
    extra = 0
    fields = ("link", "category", "code", "message", "fix", "status")
    readonly_fields = fields
    show_change_link = False

    @display(description="finding")
    def link(self, obj: ReconciliationFinding) -> str:
        return format_html('<a href="{}">#{}</a>', change_url(obj), obj.pk)


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdminMixin, ModelAdmin):
    # A running run's page reloads itself every few seconds until the run is over.
    change_form_template = "admin/reconciliation/run_change_form.html"
    list_display = (
        "id",
        "status",
        "progress",
        "trigger",
        "started_at",
        "findings_count",
        "open_findings",
    )
    list_filter = ("status", "trigger")
    readonly_fields = (
        "status",
        "progress",
        "trigger",
        "actor",
        "window_start",
        "started_at",
        "finished_at",
        "findings_count",
        "summary_table",
        "error",
    )
    inlines = [FindingInline]
    actions_list = ["run_now"]
    actions_detail = ["export_csv"]

    def has_reconcile_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("ttelgo.run_reconciliation"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReconciliationRun]:
        # Each run's open findings, counted in the list's one query (not a query per row).
        return (
            super()
            .get_queryset(request)
            .annotate(open_count=Count("findings", filter=Q(findings__status=F.Status.OPEN)))
        )

    @display(description="progress")
    def progress(self, obj: ReconciliationRun) -> str:
        done = f"{obj.checks_done} of {obj.checks_total} checks"
        if obj.status == ReconciliationRun.Status.RUNNING:
            return f"running: {done} done"
        return f"{obj.status}: {done}"

    @display(description="findings per check")
    def summary_table(self, obj: ReconciliationRun) -> str:
        """The run's summary as a table of check and findings, not its JSON."""
        rows = sorted((obj.summary or {}).items())
        if not rows:
            return "-"
        body = format_html_join(
            "",
            '<tr><td class="pr-6 py-1">{}</td><td class="py-1 text-right">{}</td></tr>',
            ((check, count) for check, count in rows),
        )
        return format_html(
            '<table data-testid="run-summary"><thead><tr>'
            '<th class="pr-6 text-left">check</th><th class="text-right">findings</th>'
            "</tr></thead><tbody>{}</tbody></table>",
            body,
        )

    @display(description="open", ordering="open_count")
    def open_findings(self, obj: ReconciliationRun) -> int:
        count = getattr(obj, "open_count", None)
        return obj.findings.filter(status=F.Status.OPEN).count() if count is None else count

    @action(
        description="Run reconciliation now",
        url_path="run-now",
        permissions=["reconcile"],
        icon="sync",
    )
    def run_now(self, request: HttpRequest) -> HttpResponse:
        """Starts a run on a worker and opens its page, which follows its progress."""
        from reconciliation.services import reconciliation_start

        def perform(form: forms.Form) -> tuple[str, str]:
            run = reconciliation_start(actor=request.user)
            return (
                f"Reconciliation {run.pk} started; this page shows its progress.",
                change_url(run),
            )

        return operator_form(
            request,
            model_admin=self,
            obj=None,
            form_class=forms.Form,
            title="Run reconciliation now",
            submit_label="Run",
            perform=perform,
            summary=[
                ("Checks", "ledger integrity, Stripe vs payments, provider vs eSIMs, stuck orders"),
            ],
            redirect_to=reverse("admin:reconciliation_reconciliationrun_changelist"),
        )

    @action(description="Export CSV", url_path="csv", icon="download")
    def export_csv(self, request: HttpRequest, object_id: str) -> HttpResponse:
        from reconciliation.services import findings_csv

        run = ReconciliationRun.objects.get(pk=object_id)
        response = HttpResponse(findings_csv(run=run), content_type="text/csv")
        stamp = timezone.localtime(run.started_at).strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = (
            f'attachment; filename="reconciliation-{run.pk}-{stamp}.csv"'
        )
        return response


class FixForm(forms.Form):
    action = forms.ChoiceField(choices=F.Fix.choices)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


@admin.register(ReconciliationFinding)
class ReconciliationFindingAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("id", "run", "category", "code", "message", "fix", "status_badge", "order_link")
    list_filter = ("status", "category", "code", "fix")
    search_fields = ("message", "object_id", "=order_id")
    readonly_fields = (
        "run",
        "category",
        "code",
        "message",
        "object_type",
        "object_id",
        "order_link",
        "details",
        "fix",
        "status",
        "resolution",
        "resolved_by",
        "resolved_at",
    )
    actions_detail = ["fix_detail"]
    actions_row = ["fix_detail"]
    actions = ["resolve_selected"]

    def has_reconcile_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("ttelgo.run_reconciliation"))

    @display(description="status", label={"open": "warning", "resolved": "success"})
    def status_badge(self, obj: ReconciliationFinding) -> str:
        return obj.status

    @display(description="order")
    def order_link(self, obj: ReconciliationFinding) -> str:
        if obj.order_id is None:
            return "-"
        url = reverse("admin:orders_order_change", args=[obj.order_id])
        return format_html('<a href="{}">order {}</a>', url, obj.order_id)

    @action(description="Fix", url_path="fix", permissions=["reconcile"], icon="build")
    def fix_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        from reconciliation.services import finding_fix

        finding = ReconciliationFinding.objects.get(pk=object_id)
        require_perm(request, "ttelgo.run_reconciliation")

        def perform(form: forms.Form) -> str:
            done = finding_fix(
                finding_id=finding.pk,
                actor=request.user,
                action=form.cleaned_data["action"],
                note=form.cleaned_data["note"],
            )
            return f"Finding {done.pk} resolved: {done.resolution}"

        class _Form(FixForm):
            action = forms.ChoiceField(
                choices=[c for c in F.Fix.choices if c[0] in (finding.fix, F.Fix.RESOLVE)]
            )

        return operator_form(
            request,
            model_admin=self,
            obj=finding,
            form_class=_Form,
            title=f"Fix finding {finding.pk}",
            submit_label="Apply",
            perform=perform,
            initial={"action": finding.fix},
            summary=[
                ("Category", finding.category),
                ("Code", finding.code),
                ("Message", finding.message),
            ],
        )

    @action(description="Mark the selected findings resolved", permissions=["reconcile"])
    def resolve_selected(
        self, request: HttpRequest, queryset: QuerySet[ReconciliationFinding]
    ) -> None:
        from reconciliation.services import finding_fix

        done = 0
        fixable = queryset.filter(status__in=FINDING_STATES.actions["fix"])
        for pk in fixable.order_by("pk").values_list("pk", flat=True):
            try:
                finding_fix(
                    finding_id=pk, actor=request.user, action=F.Fix.RESOLVE, note="resolved in bulk"
                )
                done += 1
            except DomainError as exc:
                self.message_user(request, f"Finding {pk}: {exc.message}", messages.ERROR)
        self.message_user(request, f"{done} findings resolved.", messages.SUCCESS)
