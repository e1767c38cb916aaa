"""Links mailed to a user (password reset, email verification, email change) and the
store that keeps them.

A link's token is ``<purpose>.<user id>.<secret>``; the store keeps a hash of the
secret, never the token. A user has at most one live link per purpose: a newer one
replaces it (the older link is superseded), and using one spends it, atomically, so two
uses of one link never both succeed. A link also records a fingerprint of the account
(its password hash and email) when it was sent: it is dead once either changed.
"""

import enum
from dataclasses import dataclass
from typing import Protocol


class Purpose(enum.StrEnum):
    RESET = "r"  # sets a new password
    VERIFY = "v"  # proves the account's email
    EMAIL_CHANGE = "e"  # proves a new email, which then becomes the account's


@dataclass(frozen=True)
class Link:
    purpose: Purpose
    user_id: str
    digest: str  # SHA-256 of the secret, hex
    fingerprint: str  # of the account as it was when the link was sent
    email: str  # the address the link was sent to (for an email change, the new one)
    expires_at: float


class LinkStore(Protocol):
    def put_link(self, link: Link, now: float) -> None:
        """Keep ``link`` until it expires, in place of the user's live link of its purpose."""

    def spend_link(self, purpose: Purpose, user_id: str, digest: str, now: float) -> Link | None:
        """The user's live link of ``purpose`` if its secret hashes to ``digest``, which is
        then spent: of any number of concurrent calls, one gets it. ``None`` otherwise."""

    def drop_links(self, user_id: str) -> None:
        """Spend every live link of the user."""
