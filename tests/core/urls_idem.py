"""Test-only URLconf: idempotent endpoints with an observable side effect."""

import threading
import time

from django.urls import path
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler404, handler500  # noqa: F401
from config.urls import urlpatterns as real_patterns
from ttelgo.errors import DomainError
from ttelgo.idempotency import idempotent
from ttelgo.models import User

SLOW = threading.Event()


class CreateThingApi(APIView):
    permission_classes = [AllowAny]

    @idempotent(required=True)
    def post(self, request):
        if SLOW.is_set():
            time.sleep(0.3)
        email = request.data.get("email", "")
        if email == "boom@example.com":
            raise RuntimeError("crash after writing")
        if email == "refuse@example.com":
            raise DomainError("insufficient_funds", "No money.")
        if "@" not in email:
            raise ValidationError({"email": ["Enter a valid email address."]})
        if email.endswith("@unknown.example"):
            raise NotFound("No such thing.")
        user = User.objects.create_user(email=email, password=None)
        return Response({"id": user.pk, "email": user.email}, status=201)


urlpatterns = [
    path("api/v1/test/things", CreateThingApi.as_view()),
    *real_patterns,
]
