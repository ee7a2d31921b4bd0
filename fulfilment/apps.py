from importlib import import_module

from django.apps import AppConfig


class FulfilmentConfig(AppConfig):
    name = "fulfilment"
    default_auto_field = "django.db.models.BigAutoField"
    # Its data is the operators' to look after: every operator role may view it.
    operated = True
    # Model modules besides `fulfilment.models` (the eSIM record, its refunds, the
    # provider's refunds): the auto top-up rules and runs, the ready stock. Django registers them here,
    # before any app is ready; no model module imports another to get it registered.
    model_modules = ("fulfilment.auto_topups.models", "fulfilment.stock.models")

    def import_models(self) -> None:
        super().import_models()
        for module in self.model_modules:
            import_module(module)
