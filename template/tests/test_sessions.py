"""Sessions in the field: the per-user cap, users who are gone, and logouts whose body
is not what it should be."""

import pytest
from api_helpers import PASSWORD, assert_alive, assert_dead, assert_error, claims, me, refresh
from database import USER_REMOVALS


def sid(pair) -> str:
    return claims(pair["access_token"])["sid"]


def test_a_login_beyond_the_cap_ends_the_least_recently_used_session(
    make_app_client, make_user, clock, audit_events
):
    client = make_app_client(max_sessions_per_user=3)
    email, password = make_user()

    def login():
        clock.advance(1)
        response = client.post("/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return response.json()

    first, second, third = login(), login(), login()
    clock.advance(1)
    first = refresh(client, first["refresh_token"]).json()  # a use: now the most recent
    fourth = login()

    assert_dead(client, second)
    for pair in (first, third, fourth):
        assert me(client, pair).status_code == 200
    listed = client.get("/auth/sessions", token=fourth["access_token"]).json()
    assert sorted(s["id"] for s in listed) == sorted(sid(p) for p in (first, third, fourth))
    ended = [e for e in audit_events() if e["event"] == "session.ended"]
    assert [(e["session_id"], e["reason"]) for e in ended] == [(sid(second), "session_cap")]


def test_the_session_list_stays_bounded_by_the_cap(make_app_client, make_user):
    client = make_app_client(max_sessions_per_user=5)
    email, password = make_user()
    for _ in range(12):
        last = client.post("/auth/login", json={"email": email, "password": password}).json()
    assert len(client.get("/auth/sessions", token=last["access_token"]).json()) == 5


@pytest.mark.parametrize("how", USER_REMOVALS)
def test_every_session_of_a_user_who_is_gone_stops_at_once(client, login, remove_user, how):
    pair = login()
    email = client.get("/auth/me", token=pair["access_token"]).json()["email"]
    other = login(email, PASSWORD)
    remove_user(how, claims(pair["access_token"])["sub"])
    for tokens in (pair, other):
        assert_error(me(client, tokens), 401, "token_revoked")
        assert_error(
            client.get("/auth/sessions", token=tokens["access_token"]), 401, "token_revoked"
        )
        assert_error(refresh(client, tokens["refresh_token"]), 401, "token_revoked")
    assert_error(client.post("/auth/logout-all", token=pair["access_token"]), 401, "token_revoked")
    refused = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert_error(refused, 401, "invalid_credentials")


BAD_LOGOUT_BODIES = {
    "malformed": b'{"refresh_token": "not.a.token"}',
    "not-a-string": b'{"refresh_token": 123}',
    "a-list": b'{"refresh_token": ["x"]}',
    "lone-surrogate": b'{"refresh_token": "\\ud800"}',
    "nul": b'{"refresh_token": "a\\u0000b"}',
    "not-json": b"{refresh_token",
    "json-array": b"[1, 2]",
    "deeply-nested": b"[" * 10_000 + b"]" * 10_000,
}


@pytest.mark.parametrize("body", BAD_LOGOUT_BODIES.values(), ids=BAD_LOGOUT_BODIES.keys())
def test_a_bad_refresh_token_in_a_logout_is_ignored_and_the_session_ends(client, login, body):
    pair = login()
    response = client.post(
        "/auth/logout",
        token=pair["access_token"],
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 204, response.text
    assert_dead(client, pair)


def test_a_foreign_or_expired_refresh_token_in_a_logout_is_ignored(client, clock, login):
    mine, stranger = login(), login()
    body = {"refresh_token": stranger["refresh_token"]}
    assert client.post("/auth/logout", token=mine["access_token"], json=body).status_code == 204
    assert_dead(client, mine)
    assert_alive(client, stranger)  # another user's session is never touched

    email = client.get("/auth/me", token=stranger["access_token"]).json()["email"]
    old = login(email, PASSWORD)
    clock.advance(3600 + 11)  # old's refresh token has expired; log in anew
    fresh = login(email, PASSWORD)
    body = {"refresh_token": old["refresh_token"]}
    assert client.post("/auth/logout", token=fresh["access_token"], json=body).status_code == 204
    assert_dead(client, fresh)
