"""The headers every reply carries (README.md, "HTTP API"), also on the replies that a
framework's CORS layer makes on its own, before any view runs."""

import pytest

ORIGIN = "https://app.example.com"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


@pytest.mark.parametrize("path", ["/auth/login", "/auth/me", "/health"])
def test_a_preflight_from_an_allowed_origin_carries_nosniff(make_app_client, path):
    client = make_app_client(cors_allow_origins=(ORIGIN,))
    response = client.request("OPTIONS", path, headers=PREFLIGHT)
    assert response.status_code in (200, 204), response.text
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers.get("x-content-type-options") == "nosniff"
    # Never an HTML page, not even by its content type.
    assert "html" not in response.headers.get("content-type", "")


def test_the_other_cors_replies_carry_nosniff(make_app_client, login):
    client = make_app_client(cors_allow_origins=(ORIGIN,))
    pair = login()
    evil = {**PREFLIGHT, "Origin": "https://evil.example"}
    refused = client.request("OPTIONS", "/auth/login", headers=evil)
    simple = client.get("/auth/me", token=pair["access_token"], headers={"Origin": ORIGIN})
    assert (refused.status_code, simple.status_code) == (405, 200)
    for response in (refused, simple):
        assert response.headers.get("x-content-type-options") == "nosniff", response.status_code
