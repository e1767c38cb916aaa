"""Errors the core raises; each carries the HTTP status and the API error code.

Web adapters turn any ``ServiceError`` into ``{"detail", "code"}`` JSON with
``status`` and ``headers``; they never need to know which operation failed.
"""

import math


class ServiceError(Exception):
    status = 500
    code = "internal_error"
    detail = "Internal error."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.detail)
        if detail:
            self.detail = detail

    @property
    def www_authenticate(self) -> str | None:
        """The RFC 6750 challenge for token errors, ``None`` otherwise."""
        if self.status == 401 and self.code != "invalid_credentials":
            return 'Bearer error="invalid_token"'
        return None

    @property
    def headers(self) -> dict[str, str]:
        """Headers the reply must carry besides its JSON body."""
        return {"WWW-Authenticate": self.www_authenticate} if self.www_authenticate else {}

    def body(self) -> dict[str, str]:
        return {"detail": self.detail, "code": self.code}


class InvalidRequest(ServiceError):
    status = 422
    code = "invalid_request"
    detail = "The request body is invalid."


class EmailTaken(ServiceError):
    status = 409
    code = "email_taken"
    detail = "This email is already registered."


class InvalidCredentials(ServiceError):
    status = 401
    code = "invalid_credentials"
    detail = "Wrong email or password."


class WrongPassword(ServiceError):
    status = 403
    code = "invalid_credentials"
    detail = "The current password is wrong."


class NotFound(ServiceError):
    status = 404
    code = "not_found"
    detail = "Not found."


class MethodNotAllowed(ServiceError):
    status = 405
    code = "method_not_allowed"
    detail = "Method not allowed."


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"
    detail = "The request body is too large."


class InvalidToken(ServiceError):
    status = 401
    code = "invalid_token"
    detail = "The token is invalid."


class TokenExpired(ServiceError):
    status = 401
    code = "token_expired"
    detail = "The token has expired."


class TokenRevoked(ServiceError):
    status = 401
    code = "token_revoked"
    detail = "The token has been revoked."


class TokenReused(ServiceError):
    status = 401
    code = "token_reused"
    detail = "Refresh token reuse detected: every session of this user has been revoked."


class TooManyRequests(ServiceError):
    status = 429
    code = "too_many_requests"
    detail = "Too many attempts; try again later."

    def __init__(self, retry_after: float) -> None:
        super().__init__()
        self.retry_after = max(1, math.ceil(retry_after))

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class StoreUnavailable(ServiceError):
    status = 503
    code = "store_unavailable"
    detail = "The token store is unavailable."


class RevocationUnconfirmed(StoreUnavailable):
    """A revocation was written to the primary, but fewer replicas than asked acknowledged
    it in time, so a failover could undo it. Answered 503: the revocation stands and is
    safe to retry. ``result`` is what the write returned."""

    def __init__(self, result: object = None) -> None:
        super().__init__()
        self.result = result
