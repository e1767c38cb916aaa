"""The user entity and the repository the auth service needs."""

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class User:
    id: str
    email: str
    password_hash: str = field(repr=False)  # never in a log line, even by accident


class UserRepository(Protocol):
    def add(self, email: str, password_hash: str) -> User:
        """Store a new user; raise ``EmailTaken`` if the (lower-case) email exists."""

    def get(self, user_id: str) -> User | None:
        """The user, or ``None`` when it was deleted or made inactive."""

    def get_by_email(self, email: str) -> User | None: ...

    def set_password_hash(
        self, user_id: str, password_hash: str, *, if_current: str | None = None
    ) -> bool:
        """Store a new hash; with ``if_current``, only while the stored hash is still that
        one (a rehash must never overwrite a password changed meanwhile)."""
