"""The HTTP API and its security behaviour (README.md), through the framework-neutral ``client``.

Tokens are forged from a decoded real token, so that each attack differs in one thing only.
"""

import json
import secrets
from datetime import datetime

import pytest
from api_helpers import (
    LEEWAY,
    PASSWORD,
    assert_alive,
    assert_dead,
    assert_error,
    assert_pair,
    b64,
    claims,
    forge,
    hmac_kid,
    me,
    refresh,
    sign_raw,
    token_header,
)


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def pair(login, user):
    return login(*user)


# -- register -----------------------------------------------------------------


def test_register_returns_201_with_id_and_lower_cased_email(client):
    response = client.post(
        "/auth/register", json={"email": "Alice.Smith@Example.COM", "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"id", "email"}
    assert body["email"] == "alice.smith@example.com"
    assert isinstance(body["id"], str) and body["id"]


def test_me_returns_the_registered_user(client, login):
    created = client.post("/auth/register", json={"email": "Bob@Example.com", "password": PASSWORD})
    pair = login("bob@example.com", PASSWORD)
    response = me(client, pair)
    assert response.status_code == 200
    assert created.json() == {"id": created.json()["id"], "email": "bob@example.com"}
    assert response.json() == {**created.json(), "email_verified": False}


def test_register_accepts_a_1024_character_password(client, settings, login):
    password = "p" * 1024
    response = client.post("/auth/register", json={"email": "long@x.io", "password": password})
    assert response.status_code == 201, response.text
    assert_pair(login("long@x.io", password), settings.access_token_ttl)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "a@x.io"},
        {"password": PASSWORD},
        {"email": 123, "password": PASSWORD},
        {"email": "a@x.io", "password": 12345678},
        {"email": None, "password": PASSWORD},
        {"email": ["a@x.io"], "password": PASSWORD},
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "a@", "password": PASSWORD},
        {"email": "", "password": PASSWORD},
        {"email": "a@x.io", "password": "p" * 7},
        {"email": "a@x.io", "password": "p" * 1025},
        {"email": "a@x.io", "password": ""},
        [],
        "a@x.io",
    ],
    ids=lambda body: json.dumps(body)[:40],
)
def test_register_rejects_invalid_bodies(client, body):
    assert_error(client.post("/auth/register", json=body), 422, "invalid_request")
    # nothing was created: the same email is still free
    response = client.post("/auth/register", json={"email": "a@x.io", "password": PASSWORD})
    assert response.status_code == 201


@pytest.mark.parametrize("path", ["/auth/register", "/auth/login", "/auth/refresh"])
@pytest.mark.parametrize("content", [b"{not json", b"", b"email=a@x.io&password=x"])
def test_body_that_is_not_json_is_invalid_request(client, path, content):
    response = client.post(path, content=content, headers={"Content-Type": "application/json"})
    assert_error(response, 422, "invalid_request")


def test_register_twice_with_the_same_email_in_another_case_is_email_taken(client):
    first = client.post("/auth/register", json={"email": "A@x.io", "password": PASSWORD})
    assert first.status_code == 201
    again = client.post("/auth/register", json={"email": "a@X.IO", "password": "other password"})
    assert_error(again, 409, "email_taken")


# -- login --------------------------------------------------------------------


def test_login_returns_a_bearer_token_pair(client, settings, user):
    email, password = user
    response = client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    pair = response.json()
    assert_pair(pair, settings.access_token_ttl)
    assert pair["access_token"] != pair["refresh_token"]


def test_login_compares_emails_case_insensitively(client, user):
    email, password = user
    response = client.post("/auth/login", json={"email": email.upper(), "password": password})
    assert response.status_code == 200, response.text


def test_unknown_email_and_wrong_password_get_the_same_answer(client, user):
    email, _ = user
    unknown = client.post("/auth/login", json={"email": "nobody@x.io", "password": PASSWORD})
    wrong = client.post("/auth/login", json={"email": email, "password": "wrong password"})
    for response in (unknown, wrong):
        assert_error(response, 401, "invalid_credentials")
        assert "www-authenticate" not in response.headers
    assert unknown.json() == wrong.json()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "a@x.io"},
        {"email": 123, "password": PASSWORD},
        {"email": "a@x.io", "password": None},
    ],
    ids=["empty", "no-password", "email-int", "password-null"],
)
def test_login_rejects_invalid_bodies(client, body):
    assert_error(client.post("/auth/login", json=body), 422, "invalid_request")


# -- tokens -------------------------------------------------------------------


def test_tokens_have_the_documented_headers_and_claims(settings, pair, user):
    access, refresh_token = pair["access_token"], pair["refresh_token"]
    assert token_header(access)["typ"] == "at+jwt"
    assert token_header(access)["alg"] == "HS256"
    assert token_header(refresh_token)["typ"] != "at+jwt"
    a, r = claims(access), claims(refresh_token)
    for c in (a, r):
        assert {"iss", "aud", "sub", "sid", "jti", "iat", "exp"} <= c.keys()
        assert c["iss"] == settings.jwt_issuer and c["aud"] == settings.jwt_audience
        assert len(c["jti"]) >= 22  # 128 bits, URL-safe
        assert user[0] not in json.dumps(c)  # no personal data
    assert a["sub"] == r["sub"] and a["sid"] == r["sid"]
    assert a["jti"] != r["jti"]
    assert a["exp"] - a["iat"] == settings.access_token_ttl
    assert r["exp"] <= r["session_exp"]


def test_a_faithful_forgery_is_accepted(client, settings, pair):
    """Control for the attacks below: re-signing an unchanged payload works."""
    token = forge(settings.jwt_secret, claims(pair["access_token"]))
    assert client.get("/auth/me", token=token).status_code == 200
    token = sign_raw(settings.jwt_secret, claims(pair["access_token"]))
    assert client.get("/auth/me", token=token).status_code == 200
    token = forge(settings.jwt_secret, claims(pair["refresh_token"]), typ="rt+jwt")
    assert refresh(client, token).status_code == 200


def _alg_none(key, payload):
    return f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{b64(payload)}."


def _without(name, typ="at+jwt"):
    return lambda key, payload: forge(key, {k: v for k, v in payload.items() if k != name}, typ)


def _with(**changes):
    return lambda key, payload: forge(key, {**payload, **changes})


# Each attack: (the service's key, the claims of a real token) -> a forged token.
WRONG_KEY = secrets.token_urlsafe(48)  # a key the service does not have
ACCESS_ATTACKS = {
    "garbage": lambda key, payload: "garbage",
    "three-garbage-parts": lambda key, payload: "a.b.c",
    "alg-none": _alg_none,
    "alg-none-upper": lambda key, payload: (
        f"{b64({'alg': 'None', 'typ': 'at+jwt'})}.{b64(payload)}."
    ),
    "wrong-key": lambda key, payload: forge(WRONG_KEY, payload, kid=hmac_kid(key)),
    "unknown-kid": lambda key, payload: forge(key, payload, kid=hmac_kid(WRONG_KEY)),
    "hs512": lambda key, payload: forge(key, payload, algorithm="HS512"),
    "hs384": lambda key, payload: forge(key, payload, algorithm="HS384"),
    "wrong-iss": _with(iss="someone-else"),
    "iss-with-suffix": lambda key, payload: forge(key, {**payload, "iss": payload["iss"] + "x"}),
    "iss-as-list": lambda key, payload: sign_raw(key, {**payload, "iss": [payload["iss"]]}),
    "wrong-aud": _with(aud="someone-else"),
    "typ-jwt": lambda key, payload: forge(key, payload, typ="JWT"),
    "typ-refresh": lambda key, payload: forge(key, payload, typ="rt+jwt"),
    "token-use-refresh": _with(token_use="refresh"),
    "tampered-signature": None,  # built in the test from the real token
    **{
        f"missing-{name}": _without(name)
        for name in ("iss", "aud", "exp", "iat", "jti", "sub", "sid")
    },
}


@pytest.mark.parametrize("attack", list(ACCESS_ATTACKS))
def test_forged_access_tokens_are_invalid_token(client, settings, pair, attack):
    if attack == "tampered-signature":
        head, body, signature = pair["access_token"].split(".")
        token = f"{head}.{body}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    else:
        token = ACCESS_ATTACKS[attack](settings.jwt_secret, claims(pair["access_token"]))
    assert_error(client.get("/auth/me", token=token), 401, "invalid_token")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Token {access}"},
        {"Authorization": "{access}"},
    ],
    ids=["none", "empty", "bearer-only", "bearer-space", "basic", "token-scheme", "no-scheme"],
)
@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/auth/me"),
        ("GET", "/auth/sessions"),
        ("POST", "/auth/logout"),
        ("POST", "/auth/logout-all"),
        ("DELETE", "/auth/sessions/some-id"),
    ],
)
def test_missing_or_malformed_authorization_is_invalid_token(client, pair, headers, method, path):
    headers = {k: v.format(access=pair["access_token"]) for k, v in headers.items()}
    assert_error(client.request(method, path, headers=headers), 401, "invalid_token")
    assert me(client, pair).status_code == 200  # and nothing was done


def test_password_change_without_token_is_invalid_token(client, user):
    body = {"current_password": user[1], "new_password": "a new password"}
    assert_error(client.post("/auth/password", json=body), 401, "invalid_token")


def test_refresh_token_is_not_a_bearer_token(client, pair):
    assert_error(client.get("/auth/me", token=pair["refresh_token"]), 401, "invalid_token")


def test_access_token_is_refused_at_refresh(client, pair):
    assert_error(refresh(client, pair["access_token"]), 401, "invalid_token")
    assert_alive(client, pair)  # and the refresh token was not spent


REFRESH_ATTACKS = {
    "garbage": lambda key, payload: "garbage",
    "alg-none": lambda key, payload: f"{b64({'alg': 'none', 'typ': 'rt+jwt'})}.{b64(payload)}.",
    "wrong-key": lambda key, payload: forge(WRONG_KEY, payload, "rt+jwt", kid=hmac_kid(key)),
    "hs512": lambda key, payload: forge(key, payload, "rt+jwt", algorithm="HS512"),
    "wrong-iss": lambda key, payload: forge(key, {**payload, "iss": "x"}, "rt+jwt"),
    "wrong-aud": lambda key, payload: forge(key, {**payload, "aud": "x"}, "rt+jwt"),
    "typ-access": lambda key, payload: forge(key, payload, "at+jwt"),
    "token-use-access": lambda key, payload: forge(
        key, {**payload, "token_use": "access"}, "rt+jwt"
    ),
    **{
        f"missing-{name}": _without(name, "rt+jwt")
        for name in ("iss", "aud", "exp", "iat", "jti", "sub", "sid")
    },
}


@pytest.mark.parametrize("attack", list(REFRESH_ATTACKS))
def test_forged_refresh_tokens_are_invalid_token(client, settings, pair, attack):
    token = REFRESH_ATTACKS[attack](settings.jwt_secret, claims(pair["refresh_token"]))
    assert_error(refresh(client, token), 401, "invalid_token")
    assert_alive(client, pair)  # no nuke, no spending


@pytest.mark.parametrize("body", [{}, {"refresh_token": 123}, {"refresh_token": None}, []], ids=str)
def test_refresh_rejects_invalid_bodies(client, body):
    assert_error(client.post("/auth/refresh", json=body), 422, "invalid_request")


def test_access_token_within_leeway_still_works(client, clock, settings, pair):
    clock.advance(settings.access_token_ttl + LEEWAY // 2)
    assert me(client, pair).status_code == 200


def test_expired_access_token_is_token_expired(client, clock, settings, pair):
    clock.advance(settings.access_token_ttl + LEEWAY + 1)
    assert_error(me(client, pair), 401, "token_expired")


def test_expired_refresh_token_is_token_expired(client, clock, settings, pair):
    clock.advance(settings.refresh_token_ttl + LEEWAY + 1)
    assert_error(refresh(client, pair["refresh_token"]), 401, "token_expired")


def test_expired_access_token_cannot_log_out(client, clock, settings, pair):
    clock.advance(settings.access_token_ttl + LEEWAY + 1)
    assert_error(client.post("/auth/logout", token=pair["access_token"]), 401, "token_expired")


# -- rotation and reuse -------------------------------------------------------


def test_refresh_rotates_within_the_same_session(client, settings, pair):
    response = refresh(client, pair["refresh_token"])
    assert response.status_code == 200, response.text
    new = response.json()
    assert_pair(new, settings.access_token_ttl)
    assert new["refresh_token"] != pair["refresh_token"]
    assert new["access_token"] != pair["access_token"]
    assert claims(new["access_token"])["sid"] == claims(pair["access_token"])["sid"]
    assert me(client, pair).status_code == 200  # the old access token lives on
    assert_alive(client, new)


def test_refresh_reuse_nukes_every_session_of_the_user_only(
    client, clock, settings, login, user, make_user
):
    first, second, third = login(*user), login(*user), login(*user)
    bystander = login(*make_user())
    rotated = refresh(client, first["refresh_token"]).json()
    clock.advance(settings.refresh_reuse_grace + 1)  # past the grace: a replay is reuse

    assert_error(refresh(client, first["refresh_token"]), 401, "token_reused")

    for pair in (first, rotated, second, third):
        assert_error(me(client, pair), 401, "token_revoked")
    for pair in (rotated, second, third):
        assert_error(refresh(client, pair["refresh_token"]), 401, "token_revoked")
    # no repeated nuke: the spent token, presented again, is just revoked
    assert_error(refresh(client, first["refresh_token"]), 401, "token_revoked")
    assert_alive(client, bystander)
    # the user can still log in afterwards
    assert_alive(client, login(*user))


# -- logout, logout-all, password change --------------------------------------


def test_logout_kills_this_session_only(client, login, user):
    pair, other = login(*user), login(*user)
    response = client.post("/auth/logout", token=pair["access_token"])
    assert response.status_code == 204
    assert response.text == ""
    assert_dead(client, pair)
    assert_alive(client, other)


def test_logout_with_the_refresh_token_in_the_body(client, login, user):
    pair, other = login(*user), login(*user)
    body = {"refresh_token": pair["refresh_token"]}
    response = client.post("/auth/logout", token=pair["access_token"], json=body)
    assert response.status_code == 204, response.text
    assert_dead(client, pair)
    assert_alive(client, other)


def test_logout_after_rotation_kills_the_new_refresh_token(client, pair):
    new = refresh(client, pair["refresh_token"]).json()
    assert client.post("/auth/logout", token=new["access_token"]).status_code == 204
    assert_dead(client, new)
    assert_error(me(client, pair), 401, "token_revoked")


def test_logout_all_kills_every_session(client, login, user, make_user):
    pairs = [login(*user) for _ in range(3)]
    bystander = login(*make_user())
    response = client.post("/auth/logout-all", token=pairs[0]["access_token"])
    assert response.status_code == 204
    for pair in pairs:
        assert_dead(client, pair)
    assert_alive(client, bystander)
    assert_alive(client, login(*user))  # a new login right after works


def test_password_change_starts_a_new_session_and_kills_the_others(client, settings, login, user):
    email, old_password = user
    caller, other = login(*user), login(*user)
    body = {"current_password": old_password, "new_password": "a brand new password"}
    response = client.post("/auth/password", token=caller["access_token"], json=body)
    assert response.status_code == 200, response.text
    new = response.json()
    assert_pair(new, settings.access_token_ttl)
    assert claims(new["access_token"])["sid"] not in {
        claims(caller["access_token"])["sid"],
        claims(other["access_token"])["sid"],
    }
    assert_dead(client, caller)
    assert_dead(client, other)
    assert_alive(client, new)
    wrong = client.post("/auth/login", json={"email": email, "password": old_password})
    assert_error(wrong, 401, "invalid_credentials")
    login(email, "a brand new password")


@pytest.mark.parametrize(
    "body, status, code",
    [
        (
            {"current_password": "wrong password", "new_password": "a new password"},
            403,
            "invalid_credentials",
        ),
        ({"current_password": PASSWORD, "new_password": "short"}, 422, "invalid_request"),
        ({"current_password": PASSWORD, "new_password": "p" * 1025}, 422, "invalid_request"),
        ({"current_password": PASSWORD}, 422, "invalid_request"),
        ({"new_password": "a new password"}, 422, "invalid_request"),
        ({"current_password": PASSWORD, "new_password": 12345678}, 422, "invalid_request"),
    ],
    ids=["wrong-current", "too-short", "too-long", "no-new", "no-current", "new-int"],
)
def test_failed_password_change_changes_nothing(client, login, user, body, status, code):
    email, password = user
    caller, other = login(*user), login(*user)
    response = client.post("/auth/password", token=caller["access_token"], json=body)
    assert_error(response, status, code)
    assert "www-authenticate" not in response.headers
    assert_alive(client, caller)
    assert_alive(client, other)
    login(email, password)
    if isinstance(body.get("new_password"), str):
        refused = client.post(
            "/auth/login", json={"email": email, "password": body["new_password"]}
        )
        assert_error(refused, 401, "invalid_credentials")


# -- sessions -----------------------------------------------------------------


def _session_ids(client, pair) -> list:
    response = client.get("/auth/sessions", token=pair["access_token"])
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()]


def _sid(pair) -> str:
    return claims(pair["access_token"])["sid"]


def test_sessions_lists_every_live_session_with_the_current_one_flagged(client, login, user):
    pairs = [login(*user) for _ in range(3)]
    response = client.get("/auth/sessions", token=pairs[1]["access_token"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    sessions = response.json()
    assert isinstance(sessions, list) and len(sessions) == 3
    for session in sessions:
        assert set(session) == {
            "id",
            "created_at",
            "last_used_at",
            "current",
            "user_agent",
            "client",
        }
        for field in ("created_at", "last_used_at"):
            assert datetime.fromisoformat(session[field].replace("Z", "+00:00")).tzinfo
    assert {s["id"] for s in sessions} == {_sid(p) for p in pairs}
    assert [s["id"] for s in sessions if s["current"] is True] == [_sid(pairs[1])]
    assert sum(s["current"] is False for s in sessions) == 2


def test_refresh_updates_last_used_at(client, clock, pair):
    clock.advance(120)
    new = refresh(client, pair["refresh_token"]).json()
    [session] = client.get("/auth/sessions", token=new["access_token"]).json()
    created = datetime.fromisoformat(session["created_at"].replace("Z", "+00:00"))
    used = datetime.fromisoformat(session["last_used_at"].replace("Z", "+00:00"))
    assert 110 <= (used - created).total_seconds() <= 130


def test_dead_sessions_are_not_listed(client, login, user):
    gone, kept = login(*user), login(*user)
    assert client.post("/auth/logout", token=gone["access_token"]).status_code == 204
    assert _session_ids(client, kept) == [_sid(kept)]


def test_deleting_another_of_my_sessions_kills_it(client, login, user):
    mine, other, third = login(*user), login(*user), login(*user)
    response = client.delete(f"/auth/sessions/{_sid(other)}", token=mine["access_token"])
    assert response.status_code == 204
    assert response.text == ""
    assert_dead(client, other)
    assert sorted(_session_ids(client, mine)) == sorted([_sid(mine), _sid(third)])
    # a session that is already dead is not found
    again = client.delete(f"/auth/sessions/{_sid(other)}", token=mine["access_token"])
    assert_error(again, 404, "not_found")


def test_deleting_another_users_session_is_not_found(client, login, make_user):
    mine, theirs = login(*make_user()), login(*make_user())
    response = client.delete(f"/auth/sessions/{_sid(theirs)}", token=mine["access_token"])
    assert_error(response, 404, "not_found")
    assert_alive(client, theirs)
    assert_alive(client, mine)


@pytest.mark.parametrize("session_id", ["0123456789abcdef0123456789abcdef", "x", "..", "%2e%2e"])
def test_deleting_an_unknown_session_is_not_found(client, pair, session_id):
    response = client.delete(f"/auth/sessions/{session_id}", token=pair["access_token"])
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "not_found"
    assert_alive(client, pair)


def test_deleting_my_current_session_logs_me_out(client, pair):
    response = client.delete(f"/auth/sessions/{_sid(pair)}", token=pair["access_token"])
    assert response.status_code == 204
    assert_dead(client, pair)


# -- absolute session life ----------------------------------------------------


def test_rotation_never_extends_the_session(client, clock, settings, pair):
    assert settings.refresh_token_ttl < settings.session_max_age
    login_time = claims(pair["access_token"])["iat"]
    session_end = claims(pair["refresh_token"])["session_exp"]
    assert login_time + settings.session_max_age - 1 <= session_end
    assert session_end <= login_time + settings.session_max_age
    step = settings.refresh_token_ttl - 600  # 3000 s: inside the idle timeout
    last = pair
    while clock.now + step < session_end:
        clock.advance(step)
        response = refresh(client, last["refresh_token"])
        assert response.status_code == 200, response.text
        last = response.json()
        r = claims(last["refresh_token"])
        assert r["session_exp"] == session_end
        assert r["exp"] <= session_end
        assert claims(last["access_token"])["exp"] <= session_end
    # one last rotation close to the end: the access token is capped too
    clock.advance(session_end - clock.now - 300)
    response = refresh(client, last["refresh_token"])
    assert response.status_code == 200, response.text
    last = response.json()
    a = claims(last["access_token"])
    assert a["exp"] <= session_end
    assert last["expires_in"] == a["exp"] - a["iat"] < settings.access_token_ttl
    assert claims(last["refresh_token"])["exp"] <= session_end

    clock.advance(session_end - clock.now + LEEWAY + 1)
    assert_error(refresh(client, last["refresh_token"]), 401, "token_expired")
    assert_error(me(client, last), 401, "token_expired")


# -- the rest of the API ------------------------------------------------------


def test_health_reports_the_store(client, service):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    expected = {"status": "ok", "store": service.store.name}
    if service.store.name == "redis":  # and the deployment: this suite's single server
        expected.update(redis_mode="standalone", replicas=0)
    else:
        assert service.store.name == "memory"
    assert response.json() == expected


@pytest.mark.parametrize(
    "method, path", [("GET", "/nope"), ("POST", "/auth/nope"), ("GET", "/auth/me/extra")]
)
def test_unknown_path_is_not_found(client, pair, method, path):
    response = client.request(method, path, token=pair["access_token"])
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/auth/login"),
        ("GET", "/auth/register"),
        ("GET", "/auth/refresh"),
        ("DELETE", "/health"),
        ("POST", "/health"),
        ("POST", "/auth/me"),
        ("DELETE", "/auth/sessions"),
        ("GET", "/auth/logout"),
    ],
)
def test_wrong_method_is_method_not_allowed(client, method, path):
    assert_error(client.request(method, path), 405, "method_not_allowed")


@pytest.mark.parametrize("path", ["/auth/register", "/auth/login", "/auth/refresh"])
def test_an_oversized_body_is_refused_before_it_is_read(client, path):
    body = json.dumps({"email": "a@example.com", "password": "x" * 70_000}).encode()
    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert_error(response, 413, "payload_too_large")
