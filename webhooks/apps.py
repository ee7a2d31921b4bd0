from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ttelgo.outbox import event_subscribe
        from webhooks.services import event_publish

        # Domain events recorded anywhere become deliveries to the vendor's endpoints.
        event_subscribe(event_publish)
