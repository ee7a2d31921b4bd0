"""The console's admin pages: the ones that span apps (registered on import)."""

from console import payments_admin, vendors_admin  # noqa: F401
