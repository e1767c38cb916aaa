"""Django peer: Django REST framework with djangorestframework-simplejwt as its docs set
it up: ``JWTAuthentication`` (it checks no store: the user by id, from SQLite) and
``TokenRefreshView`` with ``ROTATE_REFRESH_TOKENS`` and ``BLACKLIST_AFTER_ROTATION`` (the
token_blacklist app). Middleware, database options and password hasher as the rendered
service's settings have them, so that only the authentication differs.

Environment: BENCH_SECRET, BENCH_DATABASE, BENCH_EMAIL, BENCH_PASSWORD.
"""

import os
from datetime import timedelta

import django
from django.conf import settings
from django.urls import path

settings.configure(
    SECRET_KEY=os.environ["BENCH_SECRET"],
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "rest_framework",
        "rest_framework_simplejwt.token_blacklist",
    ],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ["BENCH_DATABASE"],
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
        }
    },
    PASSWORD_HASHERS=["django.contrib.auth.hashers.Argon2PasswordHasher"],
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    USE_TZ=True,
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "rest_framework_simplejwt.authentication.JWTAuthentication"
        ],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    },
    SIMPLE_JWT={
        "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
        "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
        "ROTATE_REFRESH_TOKENS": True,
        "BLACKLIST_AFTER_ROTATION": True,
    },
)
django.setup()

from rest_framework.response import Response  # noqa: E402  (needs settings)
from rest_framework.views import APIView  # noqa: E402
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView  # noqa: E402


class MeView(APIView):
    def get(self, request):
        return Response({"id": request.user.id, "email": request.user.email})


urlpatterns = [
    path("api/token/", TokenObtainPairView.as_view()),
    path("api/token/refresh/", TokenRefreshView.as_view()),
    path("api/me/", MeView.as_view()),
]


def setup() -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    email = os.environ["BENCH_EMAIL"]
    get_user_model().objects.create_user(email, email, os.environ["BENCH_PASSWORD"])


def create():
    from django.core.wsgi import get_wsgi_application
    from serve import wsgi

    return wsgi(get_wsgi_application())
