"""Races an attacker can drive, made deterministic: the racing request is paused between
its two steps while the other one runs to its answer."""

import threading

import pytest
from api_helpers import assert_dead, assert_error, me, refresh

NEW_PASSWORD = "the victim's new password"


class Pause:
    """Wraps ``target`` (kept as ``pause.target``, to be put back): the first call of
    ``method`` waits, after it has run (``after=True``) or before, until the test lets it
    go. The test makes sure that the racing request is the first to call it (servers may
    run it on any thread)."""

    def __init__(self, target, method: str, *, after: bool) -> None:
        self.target = target
        self._method, self._after = method, after
        self.reached, self.release = threading.Event(), threading.Event()
        self._lock = threading.Lock()
        self._taken = False

    def __getattr__(self, name):
        attribute = getattr(self.target, name)
        if name != self._method:
            return attribute

        def paused(*args, **kwargs):
            with self._lock:
                hold, self._taken = not self._taken, True
            if hold and not self._after:
                self.reached.set()
                assert self.release.wait(30)
            result = attribute(*args, **kwargs)
            if hold and self._after:
                self.reached.set()
                assert self.release.wait(30)
            return result

        return paused


def run_paused_login(client, pause, email, password):
    """Start a login in a thread that ``pause`` holds; return (thread, its answer box)."""
    answer = {}

    def login():
        answer["response"] = client.post("/auth/login", json={"email": email, "password": password})

    thread = threading.Thread(target=login)
    thread.start()
    assert pause.reached.wait(30), "the login never reached the pause"
    return thread, answer


@pytest.mark.parametrize(
    "where",
    [
        ("store", "create_session", False),  # password checked, session not yet created
        ("users", "get_by_email", True),  # account found, password not yet checked
    ],
    ids=["before-create-session", "before-password-check"],
)
def test_a_login_in_flight_never_outlives_a_password_change(
    client, service, login, make_user, where
):
    attribute, method, after = where
    email, password = make_user()
    victim = login(email, password)
    pause = Pause(getattr(service, attribute), method, after=after)
    setattr(service, attribute, pause)

    thread, answer = run_paused_login(client, pause, email, password)
    body = {"current_password": password, "new_password": NEW_PASSWORD}
    changed = client.post("/auth/password", token=victim["access_token"], json=body)
    assert changed.status_code == 200, changed.text
    pause.release.set()
    thread.join(30)

    attacker = answer["response"]
    assert_error(attacker, 401, "invalid_credentials")
    new = changed.json()
    sessions = client.get("/auth/sessions", token=new["access_token"]).json()
    assert len(sessions) == 1  # the victim's new session, and nothing else
    assert me(client, new).status_code == 200


def revoke_all_by_logout_all(client, victim) -> None:
    assert client.post("/auth/logout-all", token=victim["access_token"]).status_code == 204


def revoke_all_by_reuse(client, victim) -> None:
    once = refresh(client, victim["refresh_token"]).json()
    refresh(client, once["refresh_token"])
    # Two rotations old: reuse, and every session of the user ends (the nuke).
    assert_error(refresh(client, victim["refresh_token"]), 401, "token_reused")


@pytest.mark.parametrize("revoke_all", [revoke_all_by_logout_all, revoke_all_by_reuse])
def test_a_right_password_login_racing_a_revoke_all_gets_a_working_session(
    client, service, login, make_user, revoke_all
):
    # Neither changes the password: the login checked the right one, so it must work.
    email, password = make_user()
    victim = login(email, password)
    pause = Pause(service.store, "create_session", after=False)
    service.store = pause

    thread, answer = run_paused_login(client, pause, email, password)
    revoke_all(client, victim)
    pause.release.set()
    thread.join(30)

    response = answer["response"]
    assert response.status_code == 200, response.text
    pair = response.json()
    assert me(client, pair).status_code == 200
    assert len(client.get("/auth/sessions", token=pair["access_token"]).json()) == 1
    assert_dead(client, victim)


def test_a_refresh_in_flight_loses_to_logout(client, service, login):
    pair = login()
    pause = Pause(service.users, "get", after=True)
    service.users = pause
    answer = {}

    def rotate():
        answer["response"] = refresh(client, pair["refresh_token"])

    thread = threading.Thread(target=rotate)
    thread.start()
    assert pause.reached.wait(30)
    service.users = pause.target  # the real repository back, for the logout
    assert client.post("/auth/logout", token=pair["access_token"]).status_code == 204
    pause.release.set()
    thread.join(30)
    assert_error(answer["response"], 401, "token_revoked")
