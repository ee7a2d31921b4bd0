"""factory-boy factories shared by the suite. Apps add theirs here or in tests/<app>/."""

import factory

from ttelgo.models import User
from vendors.models import Vendor


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class VendorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vendor

    name = factory.Sequence(lambda n: f"Vendor {n}")
    status = Vendor.Status.ACTIVE
    billing_mode = Vendor.BillingMode.PREPAID
    currency = "USD"
    contact_email = factory.Sequence(lambda n: f"ops{n}@vendor.example")
