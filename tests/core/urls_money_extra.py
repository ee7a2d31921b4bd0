"""Test-only URLconf: the real one plus a write endpoint no race entry knows."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler404, handler500  # noqa: F401
from config.urls import urlpatterns as real_patterns


class PayoutApi(APIView):
    def post(self, request):  # pragma: no cover (never called: only listed)
        return Response(status=201)


urlpatterns = [path("api/v1/vendor/payouts", PayoutApi.as_view()), *real_patterns]
