"""FastAPI floor: one sync ``def`` route (one threadpool hop, sync redis-py and sqlite3)."""

from core import current_user, issue, setup
from fastapi import FastAPI, HTTPException, Request

__all__ = ["create", "setup"]


def create() -> FastAPI:
    app = FastAPI()

    @app.post("/login")
    def login() -> dict:
        return issue()

    @app.get("/me")
    def me(request: Request) -> dict:
        user = current_user(request.headers.get("authorization"))
        if user is None:
            raise HTTPException(401)
        return user

    return app
