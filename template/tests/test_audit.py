"""The audit trail: one JSON object per event, saying who and from where, never a secret."""

from datetime import datetime

from api_helpers import claims

EVENTS = {
    "user.registered",
    "login.failed",
    "login.throttled",
    "login.succeeded",
    "token.reuse_detected",
    "session.ended",
    "sessions.ended_all",
    "password.changed",
}


def test_every_event_is_one_json_object_with_who_and_where(
    make_app_client, audit_events, clock, settings
):
    client = make_app_client(rate_limit_login=(2, 900), trusted_proxies=("127.0.0.1",))
    where = {"X-Forwarded-For": "198.51.100.23", "User-Agent": "audit-test/1.0"}

    def refresh(client, token):
        return client.post("/auth/refresh", json={"refresh_token": token}, headers=where)

    email, password = "audited@example.com", "correct horse battery"
    credentials = {"email": email, "password": password}
    secrets = [password, "wrong password one", "a brand new password"]

    user_id = client.post("/auth/register", json=credentials, headers=where).json()["id"]
    for wrong in ("wrong password one", "wrong password one"):
        client.post("/auth/login", json={"email": email, "password": wrong}, headers=where)
    client.post("/auth/login", json=credentials, headers=where)  # throttled
    clock.advance(901)
    first = client.post("/auth/login", json=credentials, headers=where).json()
    second = client.post("/auth/login", json=credentials, headers=where).json()
    third = client.post("/auth/login", json=credentials, headers=where).json()
    secrets += [*first.values(), *second.values(), *third.values()]
    client.delete(f"/auth/sessions/{claims(second['access_token'])['sid']}",
                  token=first["access_token"], headers=where)  # fmt: skip
    client.post("/auth/logout", token=third["access_token"], headers=where)
    rotated = refresh(client, first["refresh_token"]).json()
    secrets += [*rotated.values()]
    body = {"current_password": password, "new_password": "a brand new password"}
    changed = client.post("/auth/password", token=rotated["access_token"], json=body, headers=where)
    new = changed.json()
    secrets += [*new.values()]
    client.post("/auth/logout-all", token=new["access_token"], headers=where)
    fresh = client.post(
        "/auth/login", json={"email": email, "password": "a brand new password"}, headers=where
    ).json()
    secrets += [*fresh.values()]
    clock.advance(settings.refresh_reuse_grace + 1)
    refresh(client, rotated["refresh_token"])  # dead session: no event
    again = refresh(client, fresh["refresh_token"]).json()
    secrets += [*again.values()]
    clock.advance(settings.refresh_reuse_grace + 1)
    refresh(client, fresh["refresh_token"])  # reuse: the nuke

    events = audit_events()
    assert {e["event"] for e in events} >= EVENTS, [e["event"] for e in events]
    for event in events:
        assert {"ts", "event", "user_id", "session_id", "client", "user_agent"} <= event.keys()
        assert datetime.fromisoformat(event["ts"]).utcoffset().total_seconds() == 0
        assert event["client"] == "198.51.100.23", event
        assert event["user_agent"] == "audit-test/1.0", event
        if event["event"] != "login.throttled":
            assert event["user_id"] == user_id, event
    by_name = {}
    for event in events:
        by_name.setdefault(event["event"], []).append(event)
    assert len(by_name["login.failed"]) == 2
    assert by_name["token.reuse_detected"][0]["session_id"] == claims(fresh["access_token"])["sid"]
    assert {e["reason"] for e in by_name["session.ended"]} == {"deleted", "logout"}
    assert by_name["password.changed"][0]["session_id"] == claims(rotated["access_token"])["sid"]

    text = "\n".join(str(e) for e in events)
    for secret in secrets:
        if isinstance(secret, str) and len(secret) > 8:
            for part in secret.split("."):
                assert part not in text
    assert "$argon2" not in text
