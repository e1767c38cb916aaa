"""Django floor: one plain function view, no middleware, no apps, served through a2wsgi
as the rendered service is."""

import os

import django
from core import current_user, issue, setup
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import path

__all__ = ["create", "setup"]

settings.configure(
    SECRET_KEY=os.environ["BENCH_SECRET"],
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={},
)
django.setup()


def login(request):
    return JsonResponse(issue())


def me(request):
    user = current_user(request.headers.get("Authorization"))
    return JsonResponse(user) if user else HttpResponse(status=401)


urlpatterns = [path("login", login), path("me", me)]


def create():
    from django.core.wsgi import get_wsgi_application
    from serve import wsgi

    return wsgi(get_wsgi_application())
