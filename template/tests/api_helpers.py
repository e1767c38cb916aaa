"""Helpers of the framework-neutral HTTP suite: error shapes, token forging, session checks."""

import base64
import hashlib
import hmac
import json

import jwt

LEEWAY = 10  # seconds of clock skew tolerated on verification
CHALLENGE = 'Bearer error="invalid_token"'
PASSWORD = "correct horse battery"


# -- helpers ------------------------------------------------------------------


def assert_error(response, status: int, code: str) -> dict:
    """The response is an API error: JSON ``{"detail", "code"}`` with this status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and {"detail", "code"} <= body.keys(), body
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["code"] == code, body
    if status == 401 and code != "invalid_credentials":
        assert response.headers.get("www-authenticate") == CHALLENGE
    return body


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def forge(settings, payload: dict, typ: str = "at+jwt", key=None, algorithm="HS256") -> str:
    return jwt.encode(
        payload, key or settings.jwt_secret, algorithm=algorithm, headers={"typ": typ}
    )


def b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign_raw(settings, payload: dict, typ: str = "at+jwt") -> str:
    """HS256 by hand, for payloads PyJWT refuses to encode."""
    signing_input = f"{b64({'alg': 'HS256', 'typ': typ})}.{b64(payload)}"
    digest = hmac.new(settings.jwt_secret.encode(), signing_input.encode(), hashlib.sha256)
    return f"{signing_input}.{b64(digest.digest())}"


def me(client, pair: dict):
    return client.get("/auth/me", token=pair["access_token"])


def refresh(client, token: str):
    return client.post("/auth/refresh", json={"refresh_token": token})


def assert_alive(client, pair: dict) -> dict:
    """Both tokens of the pair work; returns the rotated pair."""
    assert me(client, pair).status_code == 200
    response = refresh(client, pair["refresh_token"])
    assert response.status_code == 200, response.text
    return response.json()


def assert_dead(client, pair: dict) -> None:
    """Both tokens of the pair are refused as revoked."""
    assert_error(me(client, pair), 401, "token_revoked")
    assert_error(refresh(client, pair["refresh_token"]), 401, "token_revoked")


def assert_pair(pair: dict, access_ttl: int) -> None:
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] == access_ttl
    assert isinstance(pair["access_token"], str) and isinstance(pair["refresh_token"], str)
