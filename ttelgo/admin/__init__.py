from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from ttelgo.admin.console import (
    LargeTableAdminMixin,
    ReadOnlyAdminMixin,
    RecentValuesFieldListFilter,
)
from ttelgo.models import AuditLog, User


@admin.register(User)
class UserAdmin(LargeTableAdminMixin, BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    ordering = ("-date_joined",)
    list_display = ("email", "is_staff", "is_active", "flagged_at", "date_joined")
    list_filter = ("is_staff", "is_active", "groups")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Risk", {"fields": ("flagged_at", "flag_reason")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    # Only superusers manage staff accounts and roles: an operator with change_user (the
    # admin role) looks after customers' accounts, but cannot touch a staff or superuser
    # account (its own included: no making itself superuser, no resetting a superuser's
    # password), nor grant staff status, superuser status or groups.
    STAFF_ONLY_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        if obj is not None and not request.user.is_superuser and (obj.is_staff or obj.is_superuser):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        if obj is not None and not request.user.is_superuser and (obj.is_staff or obj.is_superuser):
            return False
        return super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return fields
        return fields + self.STAFF_ONLY_FIELDS


@admin.register(AuditLog)
class AuditLogAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    """Read-only: the audit log is evidence, not a worksheet."""

    list_display = ("created_at", "actor_label", "action", "target_type", "target_repr", "reason")
    list_filter = (
        ("action", RecentValuesFieldListFilter),
        ("target_type", RecentValuesFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("actor_label", "action", "target_id", "target_repr", "reason", "request_id")
    readonly_fields = [f.name for f in AuditLog._meta.fields]
