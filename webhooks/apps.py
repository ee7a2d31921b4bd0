from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"
    # Its data is the operators\' to look after: every operator role may view it.
    operated = True

    def ready(self) -> None:
        from ttelgo.outbox import event_subscribe
        from webhooks.services import event_publish

        # Domain events recorded anywhere become deliveries to the vendor's endpoints.
        event_subscribe(event_publish)
