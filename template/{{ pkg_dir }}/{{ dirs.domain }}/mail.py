"""A mail the service sends, and the mailer that sends it."""

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    # The body, and the same as HTML; kept out of repr(): a link in it may log someone in.
    text: str = field(repr=False)  # a link stands on a line of its own
    html: str | None = field(default=None, repr=False)
    # Whom it concerns, for the audit line of a mail that could not be sent; never
    # written out with the text.
    user_id: str | None = None


class Mailer(Protocol):
    def send(self, message: Message) -> None:
        """Hand the message over for delivery, now; any exception is a failed try."""
