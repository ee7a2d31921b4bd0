"""Customer auth endpoints (API.md "Customer auth")."""

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import translation
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from ttelgo.idempotency import idempotent
from ttelgo.services import user_language_set, user_register
from ttelgo.throttling import ClientScopedThrottle


class RegisterApi(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [ClientScopedThrottle]
    throttle_scope = "auth"

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(max_length=128, write_only=True)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        email = serializers.EmailField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer}, tags=["auth"])
    @idempotent()
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # The browser's language (Accept-Language) until the customer picks another.
        user = user_register(
            **data.validated_data, language=translation.get_language_from_request(request)
        )
        return Response(self.OutputSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenApi(TokenObtainPairView):
    throttle_classes = [ClientScopedThrottle]
    throttle_scope = "auth"


class RotatingRefreshSerializer(TokenRefreshSerializer):
    """simplejwt checks the blacklist, then blacklists the old token: two refreshes of one
    token at once both passed the check. The token's outstanding row is locked first, so
    refreshes of one token run one after the other and exactly one succeeds."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        token = self.token_class(attrs["refresh"])  # signature, expiry, blacklist
        with transaction.atomic():
            OutstandingToken.objects.select_for_update(no_key=True).filter(
                jti=token[jwt_settings.JTI_CLAIM]
            ).first()
            return super().validate(attrs)  # the blacklist is read again, under the lock


class TokenRefreshApi(TokenRefreshView):
    serializer_class = RotatingRefreshSerializer  # type: ignore[assignment]
    throttle_classes = [ClientScopedThrottle]
    throttle_scope = "auth"


class MeApi(APIView):
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        email = serializers.EmailField()
        language = serializers.CharField()
        date_joined = serializers.DateTimeField()

    class UpdateSerializer(serializers.Serializer):
        language = serializers.ChoiceField(choices=settings.LANGUAGES)

    @extend_schema(responses=OutputSerializer, tags=["auth"])
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(request.user).data)

    @extend_schema(request=UpdateSerializer, responses=OutputSerializer, tags=["auth"])
    def patch(self, request: Request) -> Response:
        data = self.UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_language_set(user=request.user, language=data.validated_data["language"])  # type: ignore[arg-type]
        return Response(self.OutputSerializer(user).data)
