"""Tests of your own endpoints (endpoints.py). This file is yours: `copier update`
never touches it. The fixtures (``client``, ``login``, ``make_user``...) come from
conftest.py; ``client`` speaks HTTP to the app, whatever the framework."""

from api_helpers import assert_error


def test_hello_needs_a_live_access_token(client, login):
    assert_error(client.get("/hello"), 401, "invalid_token")
    pair = login()
    email = client.get("/auth/me", token=pair["access_token"]).json()["email"]

    response = client.get("/hello", token=pair["access_token"])
    assert response.status_code == 200, response.text
    assert response.json() == {"message": f"Hello, {email}"}

    assert client.post("/auth/logout", token=pair["access_token"]).status_code == 204
    assert_error(client.get("/hello", token=pair["access_token"]), 401, "token_revoked")
