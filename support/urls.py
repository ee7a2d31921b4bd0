from django.urls import URLPattern, path

from support import api

urlpatterns: list[URLPattern] = [
    path("tickets", api.TicketListApi.as_view(), name="tickets"),
    path("webhooks/inbound-email", api.InboundEmailApi.as_view(), name="inbound-email"),
    path("tickets/<int:ticket_id>", api.TicketDetailApi.as_view(), name="ticket"),
    path(
        "tickets/<int:ticket_id>/messages",
        api.TicketMessageCreateApi.as_view(),
        name="ticket-messages",
    ),
    path("vendor/tickets", api.VendorTicketListApi.as_view(), name="vendor-tickets"),
    path(
        "vendor/tickets/<int:ticket_id>", api.VendorTicketDetailApi.as_view(), name="vendor-ticket"
    ),
    path(
        "vendor/tickets/<int:ticket_id>/messages",
        api.VendorTicketMessageCreateApi.as_view(),
        name="vendor-ticket-messages",
    ),
]
