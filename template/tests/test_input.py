"""What an attacker's bytes get: the API's JSON errors, never a 500, a redirect or HTML;
exact paths; the headers every reply carries; CORS on the API's terms."""

import json

import pytest
from api_helpers import assert_alive, assert_error, claims, forge, me, refresh, sign_raw

ORIGIN = "https://app.example.com"
JSON = {"Content-Type": "application/json"}


def post_raw(client, path, body: bytes, token=None):
    return client.post(path, content=body, headers=JSON, token=token)


SURROGATE = '"\\ud800"'  # a lone UTF-16 surrogate: valid JSON, not text
BAD_BODIES = {
    "surrogate-password": b'{"email": "a@x.io", "password": "abcdefgh\\ud800"}',
    "surrogate-email": b'{"email": "a\\udfff@x.io", "password": "correct horse"}',
    "nul-password": b'{"email": "a@x.io", "password": "abcd\\u0000efgh"}',
    "nul-email": b'{"email": "a\\u0000@x.io", "password": "correct horse"}',
    "deep-nesting": b'{"email": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "deep-object": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "huge-number": b'{"email": "a@x.io", "password": ' + b"9" * 5000 + b"}",
    "nan": b'{"email": "a@x.io", "password": NaN}',
    "bad-utf8": b'{"email": "a@x.io", "password": "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"}',
}


@pytest.mark.parametrize("path", ["/auth/register", "/auth/login"])
@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_bytes_in_credentials_are_invalid_request(client, path, body):
    assert_error(post_raw(client, path, body), 422, "invalid_request")


@pytest.mark.parametrize(
    "body",
    [
        b'{"refresh_token": ' + SURROGATE.encode() + b"}",
        b'{"refresh_token": "a\\u0000b"}',
        b'{"refresh_token": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        b'{"refresh_token": ' + b"1" * 5000 + b"}",
    ],
    ids=["surrogate", "nul", "deep", "huge-number"],
)
def test_bad_bytes_in_a_refresh_are_invalid_request(client, body):
    assert_error(post_raw(client, "/auth/refresh", body), 422, "invalid_request")


@pytest.mark.parametrize("field", ["current_password", "new_password"])
@pytest.mark.parametrize("bad", [SURROGATE, '"abcd\\u0000efgh"'], ids=["surrogate", "nul"])
def test_bad_bytes_in_a_password_change_change_nothing(client, login, make_user, field, bad):
    email, password = make_user()
    pair = login(email, password)
    good = {"current_password": password, "new_password": "a new password"}
    body = json.dumps(good).replace(json.dumps(good[field]), bad).encode()
    response = post_raw(client, "/auth/password", body, token=pair["access_token"])
    assert_error(response, 422, "invalid_request")
    assert_alive(client, pair)
    login(email, password)


def test_a_nul_in_a_password_is_refused_at_registration(client):
    body = {"email": "nul@example.com", "password": "abcd\x00efgh"}
    assert_error(client.post("/auth/register", json=body), 422, "invalid_request")
    body["password"] = "abcdefgh"
    assert client.post("/auth/register", json=body).status_code == 201


OUT_OF_RANGE = {
    "exp-1e20": {"exp": 10**20},
    "exp-float": {"exp": 1.5e9},
    "iat-negative": {"iat": -5},
    "exp-string": {"exp": "2099-01-01"},
    "life-too-long": "life",
    "iat-1e20": {"iat": 10**20, "exp": 10**20 + 60},
}


@pytest.mark.parametrize("change", OUT_OF_RANGE.values(), ids=OUT_OF_RANGE.keys())
def test_out_of_range_claims_are_invalid_token(client, settings, login, change):
    pair = login()
    payload, r_payload = claims(pair["access_token"]), claims(pair["refresh_token"])
    r_change = change
    if change == "life":  # one second longer than the settings allow
        change = {"exp": payload["iat"] + settings.access_token_ttl + 1}
        r_change = {"exp": r_payload["iat"] + settings.refresh_token_ttl + 1}
    token = forge(settings.jwt_secret, {**payload, **change})
    assert_error(client.get("/auth/me", token=token), 401, "invalid_token")
    assert_error(client.post("/auth/logout", token=token), 401, "invalid_token")
    r_token = forge(settings.jwt_secret, {**r_payload, **r_change}, typ="rt+jwt")
    assert_error(refresh(client, r_token), 401, "invalid_token")
    assert_alive(client, pair)  # nothing was stored or revoked


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")], ids=str)
def test_infinite_times_are_invalid_token(client, settings, login, value):
    pair = login()
    token = sign_raw(settings.jwt_secret, {**claims(pair["access_token"]), "exp": value})
    assert "Infinity" in json.dumps(value) or "NaN" in json.dumps(value)
    assert_error(client.get("/auth/me", token=token), 401, "invalid_token")


@pytest.mark.parametrize("typ", ["application/at+jwt", "AT+JWT"])
def test_the_access_typ_compares_as_rfc_9068_says(client, settings, login, typ):
    pair = login()
    token = forge(settings.jwt_secret, claims(pair["access_token"]), typ=typ)
    assert client.get("/auth/me", token=token).status_code == 200


# -- paths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/auth/me/", "//auth/me", "/auth//me", "/auth/me//", "/health/", "/AUTH/ME", "/auth/me%2F"],
)
def test_other_spellings_of_a_path_are_not_found(client, login, path):
    response = client.get(path, token=login()["access_token"])
    assert_error(response, 404, "not_found")
    assert "location" not in response.headers


@pytest.mark.parametrize("path", ["/auth/login", "/auth/me", "/health", "/auth/sessions/x"])
def test_options_is_method_not_allowed(client, path):
    assert_error(client.request("OPTIONS", path), 405, "method_not_allowed")


def test_a_host_header_never_makes_a_redirect(client, login):
    headers = {"Host": "evil.example", "Authorization": f"Bearer {login()['access_token']}"}
    response = client.get("/auth/me/", headers=headers)
    assert response.status_code in (400, 404)  # Django refuses a host it does not serve
    assert response.headers["content-type"].startswith("application/json")
    assert "location" not in response.headers
    assert "evil.example" not in response.text


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "image/*;q=0.5, */*;q=0"])
def test_every_answer_is_json_whatever_accept_asks(client, login, accept):
    pair = login()
    for response in (
        client.get("/auth/me", token=pair["access_token"], headers={"Accept": accept}),
        client.get("/auth/me", headers={"Accept": accept}),
    ):
        assert response.status_code in (200, 401), response.text  # never 406
        assert response.headers["content-type"].startswith("application/json")
        assert "html" not in response.text.lower()


# -- headers ----------------------------------------------------------------------


def test_every_response_carries_nosniff(client, login):
    pair = login()
    responses = [
        client.get("/health"),
        me(client, pair),
        client.get("/auth/me"),
        client.get("/nope"),
        client.request("DELETE", "/health"),
        post_raw(client, "/auth/login", b"{"),
        post_raw(client, "/auth/login", b'{"email": "a@x.io", "password": "' + b"x" * 70_000),
        client.post("/auth/logout", token=pair["access_token"]),
    ]
    for response in responses:
        assert response.headers.get("x-content-type-options") == "nosniff", response.status_code


def test_every_response_with_a_token_is_no_store(client, make_user):
    email, password = make_user()
    credentials = {"email": email, "password": password}
    login = client.post("/auth/login", json=credentials)
    refreshed = refresh(client, login.json()["refresh_token"])
    body = {"current_password": password, "new_password": "a new password"}
    changed = client.post("/auth/password", token=refreshed.json()["access_token"], json=body)
    for response in (login, refreshed, changed):
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"


# -- CORS -------------------------------------------------------------------------


def preflight(client, path, origin, method="POST"):
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    return client.request("OPTIONS", path, headers=headers)


def test_without_cors_origins_there_are_no_cors_headers(client):
    response = client.get("/health", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in response.headers
    assert_error(preflight(client, "/auth/login", ORIGIN), 405, "method_not_allowed")


def test_cors_answers_allowed_origins_only(make_app_client, login):
    client = make_app_client(cors_allow_origins=(ORIGIN,))
    allowed = preflight(client, "/auth/login", ORIGIN)
    assert allowed.status_code in (200, 204), allowed.text
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in allowed.headers

    refused = preflight(client, "/auth/login", "https://evil.example")
    assert_error(refused, 405, "method_not_allowed")
    assert "access-control-allow-origin" not in refused.headers

    pair = login()
    simple = client.get("/auth/me", token=pair["access_token"], headers={"Origin": ORIGIN})
    assert simple.status_code == 200
    assert simple.headers["access-control-allow-origin"] == ORIGIN
    other = client.get(
        "/auth/me", token=pair["access_token"], headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers
