"""The token store: sessions (refresh-token families), the access-token blacklist, the
per-user login epoch and the rate-limit counters.

Every operation is atomic on its own, so that concurrent requests of one user,
in threads or in other worker processes, can never lose each other's writes.
Times are Unix seconds (floats) passed in by the caller, so the whole service
runs on one clock. The store holds token ids (``jti``), never a token.
"""

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

EPOCH_TTL_SECONDS = 86_400  # an epoch only has to outlive a login in flight


@dataclass(frozen=True)
class Session:
    id: str
    created_at: float
    last_used_at: float
    expires_at: float  # absolute end: rotation never moves it
    user_agent: str | None = None
    client: str | None = None  # the client address of the last use


@dataclass(frozen=True)
class NewSession:
    """What ``create_session`` stores: the session and its first refresh token."""

    session: Session
    refresh_jti: str
    alive_until: float  # the refresh token's end, leeway included
    issued_at: int


class Rotation(enum.Enum):
    ROTATED = "rotated"  # the presented refresh token was current; it is now spent
    REPLAYED = "replayed"  # it was spent within the grace: the same pair is answered again
    REUSED = "reused"  # it had already been rotated: every session of the user is gone
    DEAD = "dead"  # its session had already ended: nothing happened


@dataclass(frozen=True)
class RotationResult:
    outcome: Rotation
    issued_at: int = 0  # of the session's current pair (ROTATED, REPLAYED)
    durable: bool = True  # False: the replicas asked for did not acknowledge it in time


@dataclass(frozen=True)
class RotationRequest:
    user_id: str
    session_id: str
    presented_jti: str
    new_jti: str
    alive_until: float  # the new refresh token's end, leeway included
    issued_at: int
    now: float
    grace: float  # seconds the presented token may be replayed after it is spent
    client: str | None
    new_epoch: str  # the user's next login epoch, should this be a reuse


@dataclass(frozen=True)
class Limit:
    """At most ``count`` hits per ``seconds`` (a sliding window) on one counter.

    ``scope`` picks the counter's neighbourhood: ``("a", address)`` or ``("u", user_id)``;
    every limit of one ``take`` call shares one scope (one Redis Cluster slot).
    """

    scope: tuple[str, str]
    name: str
    count: int
    seconds: int


class TokenStore(Protocol):
    name: str  # "redis" or "memory", reported by /health
    where: str  # for log lines, without credentials

    def health(self) -> dict[str, object]:
        """What ``/health`` reports beyond the store's name; raise ``StoreUnavailable``
        unless the store answers."""

    def check(self) -> list[str]:
        """Start-up checks against the live store: warnings to log. Raises
        ``StoreUnavailable`` when it cannot be reached, and another error, whose message
        names the setting, when a setting contradicts it."""

    def login_epoch(self, user_id: str) -> str | None:
        """The user's epoch: it moves whenever every session of the user is ended."""

    def create_session(
        self, user_id: str, new: NewSession, epoch: str | None, max_sessions: int
    ) -> list[str] | None:
        """Start a session; ``None`` (and nothing stored) when the epoch is no longer
        ``epoch``. Beyond ``max_sessions`` the least recently used sessions end: their
        ids are returned. Costs the same whatever the user's session count."""

    def rotate(self, request: RotationRequest) -> RotationResult:
        """Spend ``presented_jti`` for ``new_jti``; replay within the grace; on reuse end
        every session of the user and move the epoch to ``new_epoch``."""

    def check_access(self, user_id: str, session_id: str, jti: str, now: float) -> bool:
        """True when ``jti`` is not blacklisted and its session is alive."""

    # Revocations: where the store keeps replicas and is asked to wait for them, these
    # raise ``RevocationUnconfirmed`` after the write when too few acknowledged it.

    def blacklist(self, user_id: str, jti: str, until: float, now: float) -> None:
        """Refuse ``jti`` until ``until``; nothing is stored when that has passed."""

    def end_session(self, user_id: str, session_id: str, now: float) -> bool:
        """End one live session; False when it was not alive."""

    def end_all_sessions(self, user_id: str, new_epoch: str) -> None:
        """End every session of the user, and with them all their access tokens; the
        login epoch becomes ``new_epoch``, so a login in flight cannot create one."""

    def list_sessions(self, user_id: str, now: float) -> list[Session]:
        """The user's live sessions, oldest first."""

    def take(self, limits: Sequence[Limit], hit: str, now: float) -> float:
        """Count ``hit`` on every limit and return 0, or, when one is full, count
        nothing and return the seconds until it lets the next hit through."""

    def give_back(self, limit: Limit, hit: str) -> None:
        """Uncount ``hit`` (a login that turned out not to be a failure)."""
