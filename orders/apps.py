from importlib import import_module

from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    default_auto_field = "django.db.models.BigAutoField"
    # Its data is the operators\' to look after: every operator role may view it.
    operated = True
    # Model modules besides `orders.models`: the fraud rules and the review queue live in
    # the fraud subpackage. Django registers them here, before any app is ready; no model
    # module imports another to get it registered.
    model_modules = ("orders.fraud.models",)

    def import_models(self) -> None:
        super().import_models()
        for module in self.model_modules:
            import_module(module)
