"""The user entity and the repository the auth service needs."""

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class User:
    id: str
    email: str
    password_hash: str = field(repr=False)  # never in a log line, even by accident
    email_verified: bool = False


@dataclass(frozen=True)
class Account:
    """What an operator sees of an account, active or not (never its password hash)."""

    id: str
    email: str
    active: bool


class UserRepository(Protocol):
    """Every method raises ``DatabaseUnavailable`` when the database cannot be reached."""

    def ping(self) -> None:
        """Return when the database answers; ``/health`` asks."""

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

    def set_email_verified(self, user_id: str, email: str) -> bool:
        """Mark the email verified, only while it is still ``email`` (case-insensitive):
        a link sent to an address the account has left verifies nothing. False when it
        changed or the user is gone."""

    def change_email(self, user_id: str, old_email: str, new_email: str) -> bool:
        """Make ``new_email`` (lower-cased) the account's email, verified, only while it
        is still ``old_email``; raise ``EmailTaken`` when another account holds
        ``new_email``. False when the email changed meanwhile or the user is gone."""

    def find_account(self, email: str) -> Account | None:
        """The account of ``email`` (case-insensitive), disabled or not."""

    def set_active(self, user_id: str, active: bool) -> bool:
        """Enable or disable the account; a disabled one is unknown to ``get`` and
        ``get_by_email``. False when the user is gone."""

    def delete(self, user_id: str) -> bool:
        """Remove the user (rows of the project's tables that reference it with ON DELETE
        CASCADE go with it); False when it was not there."""
