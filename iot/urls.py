from django.urls import URLPattern, path

from iot import api

urlpatterns: list[URLPattern] = [
    path("vendor/iot/sims", api.SimListApi.as_view(), name="iot-sims"),
    path("vendor/iot/sims/bulk", api.SimBulkApi.as_view(), name="iot-sims-bulk"),
    path("vendor/iot/sims/<str:iccid>", api.SimDetailApi.as_view(), name="iot-sim"),
    path(
        "vendor/iot/sims/<str:iccid>/refresh", api.SimRefreshApi.as_view(), name="iot-sim-refresh"
    ),
    path("vendor/iot/sims/<str:iccid>/label", api.SimLabelApi.as_view(), name="iot-sim-label"),
    path("vendor/iot/sims/<str:iccid>/enable", api.SimEnableApi.as_view(), name="iot-sim-enable"),
    path(
        "vendor/iot/sims/<str:iccid>/disable", api.SimDisableApi.as_view(), name="iot-sim-disable"
    ),
    path("vendor/iot/sims/<str:iccid>/usage", api.SimUsageApi.as_view(), name="iot-sim-usage"),
    path("vendor/iot/sims/<str:iccid>/topups", api.SimTopupApi.as_view(), name="iot-sim-topups"),
    path(
        "vendor/iot/sims/<str:iccid>/auto-topup",
        api.SimAutoTopupApi.as_view(),
        name="iot-sim-auto-topup",
    ),
    path("vendor/iot/sims/<str:iccid>/sms/sync", api.SmsSyncApi.as_view(), name="iot-sim-sms-sync"),
    path(
        "vendor/iot/sims/<str:iccid>/events", api.SimEventListApi.as_view(), name="iot-sim-events"
    ),
    path(
        "vendor/iot/sims/<str:iccid>/events/sync",
        api.SimEventSyncApi.as_view(),
        name="iot-sim-events-sync",
    ),
    path("vendor/iot/events", api.EventListApi.as_view(), name="iot-events"),
    path("vendor/iot/jobs/<int:job_id>", api.JobDetailApi.as_view(), name="iot-job"),
    path("vendor/iot/usage", api.FleetUsageApi.as_view(), name="iot-usage"),
    path("vendor/iot/auto-topup", api.FleetAutoTopupApi.as_view(), name="iot-auto-topup"),
    path("vendor/iot/sms", api.SmsListCreateApi.as_view(), name="iot-sms"),
]
