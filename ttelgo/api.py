"""Customer auth endpoints (API.md "Customer auth")."""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import update_last_login
from django.db import transaction
from django.utils import translation
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import TokenObtainSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from ttelgo.fields import SendableEmailField
from ttelgo.idempotency import idempotent
from ttelgo.mfa import AMR_CLAIM, token_factor_check, token_refresh_factor_check
from ttelgo.services import user_language_set, user_register, user_tax_details_set
from ttelgo.throttling import ClientScopedThrottle


class RegisterApi(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [ClientScopedThrottle]
    throttle_scope = "auth"

    class InputSerializer(serializers.Serializer):
        email = SendableEmailField(max_length=254)
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


class FactorTokenSerializer(TokenObtainSerializer):
    """simplejwt's email + password, then `token_factor_check` before any token is made:
    no customer tokens for staff, and an account with a second factor gives its code as
    `otp`. A token issued with a second factor says so in its `amr` claim."""

    token_class = RefreshToken
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        write_only=True,
        help_text="Only for an account with two-factor authentication: the code from its "
        "authenticator app, or one of its recovery codes.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        super().validate(attrs)  # the password: self.user, or 401
        user = self.user
        assert user is not None  # USER_AUTHENTICATION_RULE said 401 otherwise
        request = self.context["request"]
        with_factor = token_factor_check(
            request=getattr(request, "_request", request),
            user=user,
            otp=attrs.get("otp", "").strip(),
        )
        refresh = RefreshToken.for_user(user)
        refresh[AMR_CLAIM] = ["pwd", "otp"] if with_factor else ["pwd"]
        if jwt_settings.UPDATE_LAST_LOGIN:
            update_last_login(None, user)  # type: ignore[arg-type]
        return {"refresh": str(refresh), "access": str(refresh.access_token)}


class TokenPairSerializer(serializers.Serializer):
    """A JWT pair, as login and refresh answer it."""

    access = serializers.CharField(help_text="send as `Authorization: Bearer <access>`")
    refresh = serializers.CharField(help_text="for `POST /auth/token/refresh`, once")


class TokenApi(TokenObtainPairView):
    serializer_class = FactorTokenSerializer  # type: ignore[assignment]
    throttle_classes = [ClientScopedThrottle]
    throttle_scope = "auth"

    @extend_schema(request=FactorTokenSerializer, responses={200: TokenPairSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class RotatingRefreshSerializer(TokenRefreshSerializer):
    """simplejwt checks the blacklist, then blacklists the old token: two refreshes of one
    token at once both passed the check. The token's outstanding row is locked first, so
    refreshes of one token run one after the other and exactly one succeeds."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        token = self.token_class(attrs["refresh"])  # signature, expiry, blacklist
        user = (
            get_user_model()
            .objects.filter(**{jwt_settings.USER_ID_FIELD: token.get(jwt_settings.USER_ID_CLAIM)})
            .first()
        )
        if user is not None:  # (a deleted account: simplejwt answers that)
            token_refresh_factor_check(user=user, claims=token)
        with transaction.atomic():
            OutstandingToken.objects.select_for_update(no_key=True).filter(
                jti=token[jwt_settings.JTI_CLAIM]
            ).first()
            return super().validate(attrs)  # the blacklist is read again, under the lock


class TokenRefreshApi(TokenRefreshView):
    serializer_class = RotatingRefreshSerializer  # type: ignore[assignment]
    throttle_classes = [ClientScopedThrottle]
    throttle_scope = "auth"

    @extend_schema(request=RotatingRefreshSerializer, responses={200: TokenPairSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class MeApi(APIView):
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        email = serializers.EmailField()
        language = serializers.CharField()
        date_joined = serializers.DateTimeField()
        country = serializers.CharField(help_text="ISO 3166 alpha-2; empty when not given")
        vat_number = serializers.CharField(help_text="with its country prefix; empty if none")
        vat_number_valid = serializers.BooleanField(
            help_text="the EU's VIES service confirmed the VAT number (reverse charge)"
        )

    class UpdateSerializer(serializers.Serializer):
        language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False)
        country = serializers.CharField(
            max_length=2,
            required=False,
            allow_blank=True,
            help_text="where you are (ISO 3166 alpha-2): the VAT of your purchases follows it",
        )
        vat_number = serializers.CharField(
            max_length=20,
            required=False,
            allow_blank=True,
            help_text=(
                "a business's EU VAT number, checked with VIES when given (refused under this "
                "field if VIES does not know it; recorded unconfirmed if VIES cannot answer). "
                "Needs `country` (given now or on record); empty removes it"
            ),
        )

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if not attrs:
                raise serializers.ValidationError(
                    "Give language, or country and vat_number (your tax details)."
                )
            return attrs

    @extend_schema(responses=OutputSerializer, tags=["auth"])
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(request.user).data)

    @extend_schema(request=UpdateSerializer, responses=OutputSerializer, tags=["auth"])
    def patch(self, request: Request) -> Response:
        data = self.UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        user: Any = request.user
        if "country" in values or "vat_number" in values:
            # Validated with VIES (an HTTP call) before anything is written.
            user = user_tax_details_set(
                user=user,
                country=values.get("country", user.country),
                vat_number=values.get("vat_number", user.vat_number),
                strict=True,
            )
        if "language" in values:
            user = user_language_set(user=user, language=values["language"])
        return Response(self.OutputSerializer(user).data)
