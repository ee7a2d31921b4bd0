from django.apps import AppConfig


class TtelgoConfig(AppConfig):
    name = "ttelgo"
    verbose_name = "Accounts and platform"
    default_auto_field = "django.db.models.BigAutoField"
    # Its data is the operators\' to look after: every operator role may view it.
    operated = True

    def ready(self) -> None:
        from django.db.models.signals import post_migrate, pre_save
        from django_structlog import signals as structlog_signals
        from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

        from ttelgo.client_ip import log_client_ip
        from ttelgo.roles import roles_sync_after_migrate
        from ttelgo.strict_input import unknown_fields_refuse
        from ttelgo.tokens import outstanding_token_hash

        unknown_fields_refuse()
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="ttelgo-roles")
        structlog_signals.bind_extra_request_metadata.connect(
            log_client_ip, dispatch_uid="ttelgo-client-ip"
        )
        pre_save.connect(
            outstanding_token_hash, sender=OutstandingToken, dispatch_uid="ttelgo-token-hash"
        )
