"""Throttles and the client address: every rate limit of the settings, with its
Retry-After, keyed on the client that TRUSTED_PROXIES names."""

from api_helpers import PASSWORD, assert_error

WINDOW = 900
OFF = {"rate_limit_login": None, "rate_limit_login_ip": None}


def attempt(client, email, password, forwarded_for=None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post("/auth/login", json={"email": email, "password": password}, headers=headers)


def assert_throttled(response, window: int = WINDOW) -> int:
    assert_error(response, 429, "too_many_requests")
    retry_after = int(response.headers["retry-after"])
    assert 0 < retry_after <= window
    return retry_after


def test_failed_logins_per_email_and_address_are_throttled(make_app_client, make_user, clock):
    client = make_app_client(rate_limit_login=(3, WINDOW))
    email, password = make_user()
    for _ in range(3):
        assert_error(attempt(client, email, "wrong password"), 401, "invalid_credentials")
    clock.advance(100)
    assert assert_throttled(attempt(client, email, "wrong password")) == WINDOW - 100
    # Throttled means refused, even with the right password.
    assert_throttled(attempt(client, email, password))
    # Another account from the same address is not throttled by this one.
    other_email, other_password = make_user()
    assert attempt(client, other_email, other_password).status_code == 200
    clock.advance(WINDOW - 100)
    assert attempt(client, email, password).status_code == 200


def test_a_success_is_not_a_failure(make_app_client, make_user):
    client = make_app_client(rate_limit_login=(2, WINDOW))
    email, password = make_user()
    for _ in range(5):
        assert attempt(client, email, password).status_code == 200
    assert attempt(client, email, "wrong password").status_code == 401
    assert attempt(client, email, password).status_code == 200


def test_unknown_emails_are_throttled_like_known_ones(make_app_client):
    client = make_app_client(rate_limit_login=(2, WINDOW))
    for _ in range(2):
        assert attempt(client, "nobody@example.com", PASSWORD).status_code == 401
    assert_throttled(attempt(client, "NOBODY@example.com", PASSWORD))


def test_login_attempts_per_address_count_successes_too(make_app_client, make_user, clock):
    client = make_app_client(rate_limit_login=None, rate_limit_login_ip=(4, WINDOW))
    email, password = make_user()
    for _ in range(3):
        assert attempt(client, email, password).status_code == 200
    assert attempt(client, email, "wrong password").status_code == 401
    assert_throttled(attempt(client, email, password))
    clock.advance(WINDOW)
    assert attempt(client, email, password).status_code == 200


def test_registrations_per_address_are_throttled(make_app_client):
    client = make_app_client(rate_limit_register=(2, 3600))
    for n in range(2):
        body = {"email": f"new{n}@example.com", "password": PASSWORD}
        assert client.post("/auth/register", json=body).status_code == 201
    body = {"email": "new2@example.com", "password": PASSWORD}
    assert_throttled(client.post("/auth/register", json=body), 3600)


def test_wrong_current_passwords_are_throttled_per_session(make_app_client, make_user, clock):
    client = make_app_client(rate_limit_password=(2, WINDOW))
    email, password = make_user()
    attacker = attempt(client, email, password).json()
    owner = attempt(client, email, password).json()
    wrong = {"current_password": "wrong password", "new_password": "a new password"}
    right = {"current_password": password, "new_password": "a new password"}
    for _ in range(2):
        response = client.post("/auth/password", token=attacker["access_token"], json=wrong)
        assert_error(response, 403, "invalid_credentials")
    # The guessing session is throttled, even with the right password...
    throttled = client.post("/auth/password", token=attacker["access_token"], json=right)
    assert_throttled(throttled)
    clock.advance(WINDOW - 1)
    assert_throttled(client.post("/auth/password", token=attacker["access_token"], json=right))
    # ...and its guesses never lock the owner's own session out.
    changed = client.post("/auth/password", token=owner["access_token"], json=right)
    assert changed.status_code == 200, changed.text


def test_ipv6_clients_are_limited_by_their_network(make_app_client, make_user):
    proxied = {"rate_limit_login": (3, WINDOW), "trusted_proxies": ("127.0.0.0/8",)}
    client = make_app_client(**proxied)
    email, password = make_user()
    for host in ("1", "2", "c"):  # one /64, three addresses
        response = attempt(client, email, "wrong password", f"2001:db8:1:2::{host}")
        assert_error(response, 401, "invalid_credentials")
    assert_throttled(attempt(client, email, password, "2001:db8:1:2:ffff::99"))
    # Another /64 is another client.
    assert attempt(client, email, password, "2001:db8:1:3::1").status_code == 200


def test_the_ipv6_prefix_is_a_setting(make_app_client, make_user):
    client = make_app_client(
        rate_limit_login=(2, WINDOW), rate_limit_ipv6_prefix=128, trusted_proxies=("127.0.0.1",)
    )
    email, password = make_user()
    for _ in range(2):
        attempt(client, email, "wrong password", "2001:db8::1")
    assert_throttled(attempt(client, email, password, "2001:db8::1"))
    # At /128 each address is a client of its own.
    assert attempt(client, email, password, "2001:db8::2").status_code == 200


def test_an_ipv4_mapped_address_counts_as_its_ipv4_address(make_app_client, make_user):
    client = make_app_client(rate_limit_login=(2, WINDOW), trusted_proxies=("127.0.0.1",))
    email, password = make_user()
    attempt(client, email, "wrong password", "198.51.100.9")
    attempt(client, email, "wrong password", "::ffff:198.51.100.9")
    assert_throttled(attempt(client, email, password, "198.51.100.9"))


def test_a_spoofed_forwarded_for_is_ignored_without_trusted_proxies(make_app_client, make_user):
    client = make_app_client(rate_limit_login=(3, WINDOW))
    email, _ = make_user()
    for n in range(3):
        response = attempt(client, email, "wrong password", f"203.0.113.{n}")
        assert response.status_code == 401
    assert_throttled(attempt(client, email, "wrong password", "203.0.113.99"))
    pair = attempt(client, "x@example.com", "whatever password", "203.0.113.98")
    assert pair.status_code == 401


def test_behind_a_trusted_proxy_the_client_is_the_forwarded_address(make_app_client, make_user):
    client = make_app_client(rate_limit_login=(3, WINDOW), trusted_proxies=("127.0.0.0/8",))
    email, password = make_user()
    for _ in range(3):
        attempt(client, email, "wrong password", "198.51.100.7")
    assert_throttled(attempt(client, email, password, "198.51.100.7"))
    # Another client behind the same proxy; what it wrote itself before its address
    # (left of what the proxy appended) is not believed.
    pair = attempt(client, email, password, "198.51.100.7, 192.0.2.44").json()
    [session] = client.get("/auth/sessions", token=pair["access_token"]).json()
    assert session["client"] == "192.0.2.44"


def test_session_rows_name_the_device_and_the_address_of_the_last_use(make_app_client, make_user):
    client = make_app_client(trusted_proxies=("127.0.0.1",))
    email, password = make_user()
    agent = "Mozilla/5.0 " + "x" * 400
    pair = client.post(
        "/auth/login",
        json={"email": email, "password": password},
        headers={"User-Agent": agent, "X-Forwarded-For": "192.0.2.10"},
    ).json()
    client.post(
        "/auth/refresh",
        json={"refresh_token": pair["refresh_token"]},
        headers={"X-Forwarded-For": "192.0.2.20"},
    )
    [session] = client.get("/auth/sessions", token=pair["access_token"]).json()
    assert session["user_agent"] == agent[:256]
    assert session["client"] == "192.0.2.20"


def test_off_means_off(make_app_client, make_user):
    client = make_app_client(**OFF)
    email, _ = make_user()
    for _ in range(12):  # the default limits would refuse the 11th
        assert attempt(client, email, "wrong password").status_code == 401
