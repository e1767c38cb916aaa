"""The numbers of the security policy, as the core reads them. ``config.Settings`` owns
their defaults and environment names; ``container`` builds these from it, once."""

from dataclasses import dataclass
from typing import NamedTuple


class RateLimit(NamedTuple):
    """At most ``count`` hits per ``seconds``, in a sliding window."""

    count: int
    seconds: int


@dataclass(frozen=True)
class SessionPolicy:
    access_ttl: int  # seconds an access token lives
    refresh_ttl: int  # seconds a refresh token lives: a session's idle timeout
    max_age: int  # a session's absolute life; no token outlives it
    reuse_grace: int  # seconds a spent refresh token may be replayed for the same pair
    max_sessions: int  # per user; a login beyond it ends the least recently used


@dataclass(frozen=True)
class RateLimits:
    """Each limit, or ``None`` when it is off; a client address counts as its network
    when it is IPv6 (one host is given a whole /64 or more)."""

    login: RateLimit | None  # failed logins per (email, client address)
    login_ip: RateLimit | None  # login attempts per client address
    register: RateLimit | None  # registrations per client address
    password: RateLimit | None  # wrong current passwords per session
    ipv6_prefix: int = 64  # the network length an IPv6 client address counts as
    email: RateLimit | None = None  # mails caused, per address mailed and per client


@dataclass(frozen=True)
class AccountPolicy:
    frontend_url: str  # links open <frontend_url>/reset-password?token=... and so on
    reset_ttl: int  # seconds a password reset link lives
    verification_ttl: int  # seconds an email verification (or change) link lives
