"""Flask floor: one plain view, served through a2wsgi as the rendered service is."""

from core import current_user, issue, setup
from flask import Flask, abort, request
from serve import wsgi

__all__ = ["create", "setup"]


def create():
    app = Flask(__name__)

    @app.post("/login")
    def login() -> dict:
        return issue()

    @app.get("/me")
    def me() -> dict:
        user = current_user(request.headers.get("Authorization"))
        if user is None:
            abort(401)
        return user

    return wsgi(app)
