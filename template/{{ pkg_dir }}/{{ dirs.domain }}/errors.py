"""Errors the core raises; each carries the HTTP status and the API error code.

Web adapters turn any ``ServiceError`` into ``{"detail", "code"}`` JSON with ``status``
and ``headers``; they decide nothing by reading a message. Every error is built whole
by its constructor and never changed afterwards.

An error class names its status and code in its class line, and its docstring is the
``detail`` people read (a constructor argument may say more).
"""

import math


class ServiceError(Exception):
    """Internal error."""

    status = 500
    code = "internal_error"
    detail = "Internal error."

    def __init_subclass__(cls, *, status: int = 0, code: str = "", **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.status = status or cls.status
        cls.code = code or cls.code
        if "detail" not in vars(cls) and cls.__doc__:
            cls.detail = cls.__doc__

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.detail)
        if detail:
            self.detail = detail

    @property
    def headers(self) -> dict[str, str]:
        """Headers the reply must carry besides its JSON body."""
        return {}

    def body(self) -> dict[str, str]:
        return {"detail": self.detail, "code": self.code}


class HttpError(ServiceError):
    # An error the HTTP layer found before the core was reached (a malformed request, a
    # framework's own refusal) for which the core has no class of its own.

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code


class InvalidRequest(ServiceError, status=422, code="invalid_request"):
    """The request body is invalid."""


class EmailTaken(ServiceError, status=409, code="email_taken"):
    """This email is already registered."""


class InvalidCredentials(ServiceError, status=401, code="invalid_credentials"):
    """Wrong email or password."""


class WrongPassword(ServiceError, status=403, code="invalid_credentials"):
    """The current password is wrong."""


class EmailNotVerified(ServiceError, status=403, code="email_not_verified"):
    """Verify your email address first: open the link mailed to you, or ask for a new one."""


class InvalidLink(ServiceError, status=400, code="invalid_link"):
    """This link is invalid or has expired; ask for a new one."""


class NotFound(ServiceError, status=404, code="not_found"):
    """Not found."""


class MethodNotAllowed(ServiceError, status=405, code="method_not_allowed"):
    """Method not allowed."""


class PayloadTooLarge(ServiceError, status=413, code="payload_too_large"):
    """The request body is too large."""


class InvalidClient(ServiceError, status=401, code="invalid_client"):
    """Client authentication failed: send this service's client id and secret with HTTP Basic."""

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="introspection"'}


class TokenError(ServiceError, status=401):
    # A token that may not pass: 401 with the RFC 6750 challenge.
    challenge = 'Bearer error="invalid_token"'

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.challenge}


class InvalidToken(TokenError, code="invalid_token"):
    # Malformed, badly signed, or not the token this endpoint takes: ``reason`` says
    # which (for logs and people); every such token answers the same code.

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenExpired(TokenError, code="token_expired"):
    """The token has expired."""


class TokenRevoked(TokenError, code="token_revoked"):
    """The token has been revoked."""


class TokenReused(TokenError, code="token_reused"):
    """Refresh token reuse detected: every session of this user has been revoked."""


class TooManyRequests(ServiceError, status=429, code="too_many_requests"):
    """Too many attempts; try again later."""

    def __init__(self, retry_after: float) -> None:
        super().__init__()
        self.retry_after = max(1, math.ceil(retry_after))

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServerBusy(ServiceError, status=503, code="server_busy"):
    """Too many passwords are being checked right now; try again in a moment."""

    retry_after = 1

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class StoreUnavailable(ServiceError, status=503, code="store_unavailable"):
    """The token store is unavailable."""


class RevocationUnconfirmed(StoreUnavailable):
    # A revocation was written to the primary, but fewer replicas than asked acknowledged
    # it in time, so a failover could undo it. Answered 503: the revocation stands and is
    # safe to retry.
    pass


class DatabaseUnavailable(ServiceError, status=503, code="database_unavailable"):
    """The users database is unavailable."""


class Unhealthy(ServiceError, status=503):
    # ``/health`` while a part cannot be reached: the code and detail of the first part
    # down, and each part: "unavailable", else the store's name and the database's "ok".

    def __init__(self, cause: ServiceError, parts: dict[str, str]) -> None:
        super().__init__(cause.detail)
        self.code = cause.code
        self.parts = parts

    def body(self) -> dict[str, str]:
        return {**super().body(), "status": "unavailable", **self.parts}
