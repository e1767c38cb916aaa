"""The user entity and the repository the auth service needs."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class User:
    id: str
    email: str
    password_hash: str


class UserRepository(Protocol):
    def add(self, email: str, password_hash: str) -> User:
        """Store a new user; raise ``EmailTaken`` if the (lower-case) email exists."""

    def get(self, user_id: str) -> User | None: ...

    def get_by_email(self, email: str) -> User | None: ...

    def set_password_hash(self, user_id: str, password_hash: str) -> None: ...
