"""The token store: sessions (refresh-token families) and the access-token blacklist.

Every operation is atomic on its own, so that concurrent requests of one user,
in threads or in other worker processes, can never lose each other's writes.
Times are Unix seconds (floats) passed in by the caller, so the whole service
runs on one clock.
"""

import enum
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Session:
    id: str
    created_at: float
    last_used_at: float
    expires_at: float  # absolute end: rotation never moves it


class Rotation(enum.Enum):
    ROTATED = "rotated"  # the presented refresh token was current; it is now spent
    REUSED = "reused"  # it had already been rotated: every session of the user is gone
    DEAD = "dead"  # its session had already ended: nothing happened


class TokenStore(Protocol):
    name: str  # "redis" or "memory", reported by /health

    def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless the store answers."""

    def create_session(
        self, user_id: str, session: Session, refresh_jti: str, refresh_expires_at: float
    ) -> None:
        """Start a session whose current refresh token is ``refresh_jti``."""

    def rotate(
        self,
        user_id: str,
        session_id: str,
        presented_jti: str,
        new_jti: str,
        new_expires_at: float,
        now: float,
    ) -> Rotation:
        """Spend ``presented_jti`` for ``new_jti``; on reuse end every session of the user."""

    def check_access(self, user_id: str, session_id: str, jti: str, now: float) -> bool:
        """True when ``jti`` is not blacklisted and its session is alive."""

    def blacklist(self, user_id: str, jti: str, until: float, now: float) -> None:
        """Refuse ``jti`` until ``until``; nothing is stored when that has passed."""

    def end_session(self, user_id: str, session_id: str, now: float) -> bool:
        """End one live session; False when it was not alive."""

    def end_all_sessions(self, user_id: str) -> None:
        """End every session of the user, and with them all their access tokens."""

    def list_sessions(self, user_id: str, now: float) -> list[Session]:
        """The user's live sessions, oldest first."""
