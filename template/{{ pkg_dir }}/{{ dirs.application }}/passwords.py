"""Password hashing with argon2id (argon2-cffi's RFC 9106 defaults).

Each hash costs argon2's memory (64 MiB by default), so at most ``concurrency``
hashes run at once in a process: a burst of logins waits instead of taking
the process's memory with it.
"""

import os
import threading

from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError


class PasswordHasher:
    def __init__(self, hasher: Argon2Hasher | None = None, concurrency: int | None = None) -> None:
        self._hasher = hasher or Argon2Hasher()
        self._slots = threading.BoundedSemaphore(concurrency or os.cpu_count() or 1)
        # Verified against when the email is unknown, so that both failures cost the same.
        self._decoy = self.hash("decoy password, never matches")

    def hash(self, password: str) -> str:
        with self._slots:
            return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            with self._slots:
                matches = self._hasher.verify(password_hash or self._decoy, password)
        except (VerificationError, InvalidHashError):
            return False
        return matches and bool(password_hash)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
