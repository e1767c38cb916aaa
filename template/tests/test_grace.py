"""The grace of a just-spent refresh token: multi-tab browsers and retries get the very
pair the rotation answered, and the session never forks; anything else is still reuse."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from api_helpers import assert_alive, assert_dead, assert_error, claims, me, refresh


@pytest.fixture
def pair(login):
    return login()


def test_a_repeat_within_the_grace_gets_the_same_pair_byte_for_byte(client, clock, pair):
    first = refresh(client, pair["refresh_token"])
    clock.advance(0.1)
    second = refresh(client, pair["refresh_token"])
    assert first.status_code == second.status_code == 200, second.text
    assert second.json() == first.json()
    assert second.headers["cache-control"] == "no-store"


def test_the_replay_changes_nothing_and_the_session_never_forks(client, clock, pair):
    rotated = refresh(client, pair["refresh_token"]).json()
    [before] = client.get("/auth/sessions", token=rotated["access_token"]).json()
    clock.advance(5)
    assert refresh(client, pair["refresh_token"]).json() == rotated
    [after] = client.get("/auth/sessions", token=rotated["access_token"]).json()
    assert after == before  # not even last_used_at moved
    # One current refresh token: the pair's rotates, and then the pair's is spent.
    newer = assert_alive(client, rotated)
    clock.advance(11)
    assert_error(refresh(client, rotated["refresh_token"]), 401, "token_reused")
    assert_dead(client, newer)


def test_twelve_concurrent_refreshes_all_get_one_pair(client, pair):
    barrier = threading.Barrier(12)

    def one(_):
        barrier.wait()
        return refresh(client, pair["refresh_token"])

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(one, range(12)))
    assert [a.status_code for a in answers] == [200] * 12, [a.text for a in answers]
    assert len({a.text for a in answers}) == 1
    assert_alive(client, answers[0].json())


def test_a_token_two_rotations_old_is_reuse_within_the_grace(client, pair):
    rotated = refresh(client, pair["refresh_token"]).json()
    newer = refresh(client, rotated["refresh_token"]).json()
    assert_error(refresh(client, pair["refresh_token"]), 401, "token_reused")
    assert_dead(client, newer)


def test_the_grace_ends(client, clock, settings, pair):
    rotated = refresh(client, pair["refresh_token"]).json()
    clock.advance(settings.refresh_reuse_grace)
    assert_error(refresh(client, pair["refresh_token"]), 401, "token_reused")
    assert_dead(client, rotated)


def test_no_grace_when_set_to_zero(make_app_client, login):
    client = make_app_client(refresh_reuse_grace=0)
    pair = login()
    rotated = refresh(client, pair["refresh_token"]).json()
    assert_error(refresh(client, pair["refresh_token"]), 401, "token_reused")
    assert_dead(client, rotated)


@pytest.mark.parametrize("revoke", ["logout", "logout-all", "delete"])
def test_no_revoke_reopens_a_grace(client, pair, revoke):
    rotated = refresh(client, pair["refresh_token"]).json()
    token = rotated["access_token"]
    if revoke == "delete":
        sid = claims(token)["sid"]
        response = client.delete(f"/auth/sessions/{sid}", token=token)
    else:
        response = client.post(f"/auth/{revoke}", token=token)
    assert response.status_code == 204, response.text
    assert_error(refresh(client, pair["refresh_token"]), 401, "token_revoked")
    assert_error(refresh(client, rotated["refresh_token"]), 401, "token_revoked")
    assert_error(me(client, rotated), 401, "token_revoked")


def test_the_store_never_holds_a_token(client, pair, stored_text):
    rotated = refresh(client, pair["refresh_token"]).json()
    assert refresh(client, pair["refresh_token"]).json() == rotated
    client.post("/auth/logout", token=rotated["access_token"])
    text = stored_text()
    assert text, "the store holds nothing at all"
    for token in (*pair.values(), *rotated.values()):
        if not isinstance(token, str) or "." not in token:
            continue
        for part in token.split("."):
            assert part not in text
