"""The console's admin pages: the ones that span apps (registered on import), and what the
console leaves out of the libraries' own admin pages."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django_celery_beat import models as beat
from rest_framework_api_key.models import APIKey
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from console.admin import payments, vendors  # noqa: F401

# Vendors' keys are VendorAPIKey, issued through the operator services. The library's own
# key model is unused here, and its admin would let staff add keys that belong to nobody.
admin.site.unregister(APIKey)
# Refresh-token bookkeeping (hashed, rotated, purged): nothing an operator acts on.
admin.site.unregister(OutstandingToken)
admin.site.unregister(BlacklistedToken)


def _not_listed(request: HttpRequest) -> bool:
    return False


# The beat schedule stays reachable by URL for superusers (/admin/django_celery_beat/),
# but off the console's app list: operators do not edit it.
for _model in (
    beat.PeriodicTask,
    beat.IntervalSchedule,
    beat.CrontabSchedule,
    beat.SolarSchedule,
    beat.ClockedSchedule,
):
    _admin: Any = admin.site.get_model_admin(_model)
    _admin.has_module_permission = _not_listed
