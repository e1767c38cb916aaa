"""Helpers shared by the suite: error shapes, reading and forging tokens, session checks."""

import base64
import hashlib
import hmac
import json

import jwt

LEEWAY = 10  # seconds of clock skew tolerated on verification
CHALLENGE = 'Bearer error="invalid_token"'
PASSWORD = "correct horse battery"


# -- errors -------------------------------------------------------------------------------


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


# -- tokens: read without verifying, or signed with the key as a forger holding it would --


def claims(token: str) -> dict:
    """The payload of ``token``, signature not checked."""
    return jwt.decode(token, options={"verify_signature": False})


def token_header(token: str) -> dict:
    """The JOSE header of ``token``, signature not checked."""
    return jwt.get_unverified_header(token)


def hmac_kid(secret: str) -> str:
    """The ``kid`` of the HMAC key ``secret``: its RFC 7638 thumbprint."""
    members = json.dumps({"k": b64(secret.encode()), "kty": "oct"}, separators=(",", ":"))
    return b64(hashlib.sha256(members.encode()).digest())


def forge(
    key, payload: dict, typ: str = "at+jwt", algorithm: str = "HS256", kid: str | None = None
) -> str:
    """``payload`` signed with ``key`` by PyJWT, as the service signs its own tokens; the
    ``kid`` is that of the HMAC key ``key`` unless given."""
    kid = kid if kid is not None else hmac_kid(key)
    return jwt.encode(payload, key, algorithm=algorithm, headers={"typ": typ, "kid": kid})


def b64(data) -> str:
    """base64url without padding, of bytes as they are or of anything else as JSON."""
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed(key: str, header: str, payload: str) -> str:
    """``header.payload`` (segments already encoded, used as given) with a valid HS256
    signature under ``key``: for tokens PyJWT refuses to make."""
    mac = hmac.digest(key.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{b64(mac)}"


def sign_raw(key: str, payload: dict, typ: str = "at+jwt") -> str:
    """HS256 by hand, for payloads PyJWT refuses to encode (a list ``iss``, infinities)."""
    header = {"alg": "HS256", "kid": hmac_kid(key), "typ": typ}
    return signed(key, b64(header), b64(payload))


# -- sessions over HTTP -------------------------------------------------------------------


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
