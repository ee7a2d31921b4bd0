"""Test-only URLconf: the real one plus views that fail on purpose."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler400, handler403, handler404, handler500  # noqa: F401
from config.urls import urlpatterns as real_patterns
from ttelgo.errors import DomainError


class BoomApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("secret internal detail: password=hunter2")


class DomainApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise DomainError("insufficient_funds", "Not enough money.", details={"needed": "1.00"})

    def post(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("api/v1/test/boom", BoomApi.as_view()),
    path("api/v1/test/domain", DomainApi.as_view()),
    *real_patterns,
]
