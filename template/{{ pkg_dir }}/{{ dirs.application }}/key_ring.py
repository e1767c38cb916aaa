"""The signing-key ring (README, "Signing keys"): the keys that sign and verify tokens.

Each key is a JWK (RFC 7517) whose ``kid`` is its RFC 7638 thumbprint, with a ``state``:
``next`` (published in the JWKS, signs nothing yet), ``current`` (signs every new token;
exactly one) or ``retired`` (verifies the tokens it signed, signs nothing). A rotation
moves each key one state on, so a token signed before it verifies until its own ``exp``
and other services have seen the new key in the JWKS before it signs anything.

HS256 keys are HMAC secrets; EdDSA (Ed25519) and ES256 (P-256) keys are key pairs, made
and used with ``cryptography``. ES256 signs deterministically (RFC 6979): a refresh
replayed within the grace is rebuilt byte for byte, like the HMAC and Ed25519 ones.
"""

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

RING_ALGORITHMS = ("HS256", "EdDSA", "ES256")  # what a ring file may hold
HMAC_ALGORITHMS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
MIN_SECRET_BYTES = 32
STATES = ("next", "current", "retired")
RING_MEMBERS = frozenset({"kid", "alg", "state", "retired_at", "use"})  # beside the JWK's own
# Members of a JWK that only the service may see: the HMAC secret, the private scalar.
PRIVATE_MEMBERS = frozenset({"k", "d", "p", "q", "dp", "dq", "qi", "oth"})
# base64url to standard base64, and the standard alphabet's "+" and "/" to characters
# that strict decoding refuses: only the URL-safe alphabet decodes.
_FROM_URLSAFE = bytes.maketrans(b"-_+/", b"+/-_")
_ECDSA = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
_P256_BYTES = 32


class KeyRingError(ValueError):
    """A key ring that cannot be used; the message says why."""


def b64url_encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def b64url_decode(segment: bytes) -> bytes:
    """Strict base64url without padding: any other character is an error."""
    if b"=" in segment or len(segment) % 4 == 1:
        raise ValueError("not base64url")
    standard = segment.translate(_FROM_URLSAFE) + b"=" * (-len(segment) % 4)
    try:
        return binascii.a2b_base64(standard, strict_mode=True)
    except binascii.Error as exc:  # a ValueError; re-raised as one for the caller
        raise ValueError("not base64url") from exc


def thumbprint(jwk: dict) -> str:
    """RFC 7638: SHA-256 of the key type's required members, sorted, no whitespace."""
    required = {"oct": ("k", "kty"), "OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y")}
    members = {name: jwk[name] for name in required[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url_encode(hashlib.sha256(canonical).digest()).decode()


# -- one algorithm each: generate, load, sign, verify --------------------------------


class _Hmac:
    def __init__(self, secret: bytes, algorithm: str) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise KeyRingError(f"an {algorithm} key has fewer than {MIN_SECRET_BYTES} bytes")
        self._secret, self._digest = secret, HMAC_ALGORITHMS[algorithm]

    @classmethod
    def generate(cls, algorithm: str) -> dict:
        return {"kty": "oct", "k": _b64(secrets.token_bytes(MIN_SECRET_BYTES * 2))}

    @classmethod
    def load(cls, jwk: dict, algorithm: str) -> "_Hmac":
        _expect(jwk, kty="oct")
        return cls(_member(jwk, "k"), algorithm)

    def sign(self, data: bytes) -> bytes:
        return hmac.digest(self._secret, data, self._digest)

    def verify(self, data: bytes, signature: bytes) -> bool:
        return hmac.compare_digest(self.sign(data), signature)

    def public(self) -> dict | None:
        return None  # a secret: never published


class _Ed25519:
    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key, self._public = key, key.public_key()

    @classmethod
    def generate(cls, algorithm: str) -> dict:
        return cls(ed25519.Ed25519PrivateKey.generate()).private_jwk()

    @classmethod
    def load(cls, jwk: dict, algorithm: str) -> "_Ed25519":
        _expect(jwk, kty="OKP", crv="Ed25519")
        try:
            loaded = cls(ed25519.Ed25519PrivateKey.from_private_bytes(_member(jwk, "d")))
        except ValueError:
            raise KeyRingError("an Ed25519 key's d is not 32 bytes") from None
        if loaded.public() != {k: jwk.get(k) for k in ("kty", "crv", "x")}:
            raise KeyRingError("an Ed25519 key's x is not the public key of its d")
        return loaded

    def private_jwk(self) -> dict:
        raw = self._key.private_bytes_raw()
        return {**self.public(), "d": _b64(raw)}

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def verify(self, data: bytes, signature: bytes) -> bool:
        try:
            self._public.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def public(self) -> dict:
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64(self._public.public_bytes_raw())}


class _P256:
    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key, self._public = key, key.public_key()

    @classmethod
    def generate(cls, algorithm: str) -> dict:
        return cls(ec.generate_private_key(ec.SECP256R1())).private_jwk()

    @classmethod
    def load(cls, jwk: dict, algorithm: str) -> "_P256":
        _expect(jwk, kty="EC", crv="P-256")
        scalar = _member(jwk, "d")
        if len(scalar) != _P256_BYTES:
            raise KeyRingError("a P-256 key's d is not 32 bytes")
        try:
            key = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())
        except ValueError:
            raise KeyRingError("a P-256 key's d is out of range") from None
        loaded = cls(key)
        if loaded.public() != {k: jwk.get(k) for k in ("kty", "crv", "x", "y")}:
            raise KeyRingError("a P-256 key's x and y are not the public key of its d")
        return loaded

    def private_jwk(self) -> dict:
        scalar = self._key.private_numbers().private_value.to_bytes(_P256_BYTES, "big")
        return {**self.public(), "d": _b64(scalar)}

    def sign(self, data: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(data, _ECDSA))
        return r.to_bytes(_P256_BYTES, "big") + s.to_bytes(_P256_BYTES, "big")  # RFC 7518 §3.4

    def verify(self, data: bytes, signature: bytes) -> bool:
        if len(signature) != 2 * _P256_BYTES:
            return False
        r = int.from_bytes(signature[:_P256_BYTES], "big")
        s = int.from_bytes(signature[_P256_BYTES:], "big")
        try:
            self._public.verify(encode_dss_signature(r, s), data, _ECDSA)
        except InvalidSignature:
            return False
        return True

    def public(self) -> dict:
        numbers = self._public.public_numbers()
        x, y = (n.to_bytes(_P256_BYTES, "big") for n in (numbers.x, numbers.y))
        return {"kty": "EC", "crv": "P-256", "x": _b64(x), "y": _b64(y)}


_KINDS = {"HS256": _Hmac, "HS384": _Hmac, "HS512": _Hmac, "EdDSA": _Ed25519, "ES256": _P256}


# -- the keys and the ring ------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SigningKey:
    """One key of the ring. ``jwk`` holds its private member: never print or log it."""

    kid: str
    alg: str
    state: str
    jwk: dict
    retired_at: int | None = None  # when it stopped signing (``keys prune`` reads it)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_impl", _KINDS[self.alg].load(self.jwk, self.alg))

    def __repr__(self) -> str:  # never the secret
        return f"SigningKey(kid={self.kid!r}, alg={self.alg!r}, state={self.state!r})"

    def sign(self, data: bytes) -> bytes:
        return self._impl.sign(data)

    def verify(self, data: bytes, signature: bytes) -> bool:
        return self._impl.verify(data, signature)

    def public_jwk(self) -> dict | None:
        """The JWKS entry: public members only; ``None`` for an HMAC secret."""
        public = self._impl.public()
        if public is None:
            return None
        return {**public, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def as_stored(self) -> dict:
        stored = {**self.jwk, "kid": self.kid, "alg": self.alg, "state": self.state}
        if self.retired_at is not None:
            stored["retired_at"] = self.retired_at
        return stored

    @classmethod
    def generate(cls, alg: str, state: str) -> "SigningKey":
        if alg not in RING_ALGORITHMS:
            raise KeyRingError(f"the algorithm must be {', '.join(RING_ALGORITHMS)}, not {alg!r}")
        jwk = _KINDS[alg].generate(alg)
        return cls(thumbprint(jwk), alg, state, jwk)

    @classmethod
    def from_secret(cls, secret: bytes, alg: str) -> "SigningKey":
        jwk = {"kty": "oct", "k": _b64(secret)}
        return cls(thumbprint(jwk), alg, "current", jwk)

    @classmethod
    def from_stored(cls, stored: object) -> "SigningKey":
        if not isinstance(stored, dict):
            raise KeyRingError("a key is not a JSON object")
        alg, state, retired_at = stored.get("alg"), stored.get("state"), stored.get("retired_at")
        if alg not in RING_ALGORITHMS:
            raise KeyRingError(f"a key's alg is {alg!r}, not one of {', '.join(RING_ALGORITHMS)}")
        if state not in STATES:
            raise KeyRingError(f"a key's state is {state!r}, not one of {', '.join(STATES)}")
        if retired_at is not None and type(retired_at) is not int:
            raise KeyRingError("a key's retired_at is not a whole number of seconds")
        jwk = {k: v for k, v in stored.items() if k not in RING_MEMBERS}
        try:
            kid = thumbprint(jwk)
        except (KeyError, TypeError):
            raise KeyRingError(f"a key of kty {jwk.get('kty')!r} lacks a required member") from None
        if stored.get("kid") != kid:
            raise KeyRingError(f"the key {stored.get('kid')!r} has another thumbprint ({kid})")
        return cls(kid, alg, state, jwk, retired_at)


class KeyRing:
    """The keys of one moment; never changed (a rotation makes a new ring)."""

    def __init__(self, keys: Iterable[SigningKey]) -> None:
        self.keys = tuple(keys)
        current = [key for key in self.keys if key.state == "current"]
        if len(current) != 1:
            raise KeyRingError(f"the ring has {len(current)} current keys: it needs exactly one")
        kids = [key.kid for key in self.keys]
        if len(set(kids)) != len(kids):
            raise KeyRingError("the ring holds the same key twice")
        self.current = current[0]
        # (kid, alg) -> the key that verifies it: never a ``next`` key, never another alg.
        self._verifiers = {(k.kid, k.alg): k for k in self.keys if k.state != "next"}

    def verifier(self, kid: object, alg: object) -> SigningKey | None:
        if not isinstance(kid, str) or not isinstance(alg, str):
            return None
        return self._verifiers.get((kid, alg))

    def jwks(self) -> dict | None:
        """The public keys, every state; ``None`` when the ring holds HMAC keys only."""
        public = [jwk for key in self.keys if (jwk := key.public_jwk()) is not None]
        return {"keys": public} if public else None

    # -- what the ``keys`` commands do, as new rings ---------------------------------

    @classmethod
    def initial(cls, alg: str, adopted: SigningKey | None = None, *, now: int) -> "KeyRing":
        """A current and a next key of ``alg``; ``adopted`` (the ``JWT_SECRET`` key) joins
        as retired, so the tokens it signed keep working until they expire."""
        keys = [SigningKey.generate(alg, "current"), SigningKey.generate(alg, "next")]
        if adopted is not None:
            keys.append(replace(adopted, state="retired", retired_at=now))
        return cls(keys)

    def rotated(self, *, now: int, alg: str | None = None) -> "KeyRing":
        """current -> retired, next -> current, and a new next key (of ``alg``, else of
        the new current's algorithm)."""
        keys, promoted = [], None
        for key in self.keys:
            if key.state == "current":
                keys.append(replace(key, state="retired", retired_at=now))
            elif key.state == "next" and promoted is None:
                promoted = replace(key, state="current")
                keys.append(promoted)
            else:
                keys.append(key)
        if promoted is None:  # no next key (a hand-made ring): one is made and used at once
            promoted = SigningKey.generate(alg or self.current.alg, "current")
            keys.append(promoted)
        keys.append(SigningKey.generate(alg or promoted.alg, "next"))
        return KeyRing(keys)

    def pruned(self, *, now: int, keep_seconds: int) -> tuple["KeyRing", list[SigningKey]]:
        """Without the keys retired more than ``keep_seconds`` ago; and those keys."""
        gone = [
            key
            for key in self.keys
            if key.state == "retired" and (key.retired_at or 0) + keep_seconds < now
        ]
        return KeyRing(k for k in self.keys if k not in gone), gone

    def as_stored(self) -> dict:
        return {"keys": [key.as_stored() for key in self.keys]}

    @classmethod
    def from_stored(cls, data: object) -> "KeyRing":
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise KeyRingError('it is not a JSON object {"keys": [...]}')
        return cls(SigningKey.from_stored(stored) for stored in data["keys"])

    @classmethod
    def from_secret(cls, secret: str, alg: str) -> "KeyRing":
        """The ring without ``JWT_KEYS_FILE``: one HMAC key, ``JWT_SECRET``."""
        if alg not in HMAC_ALGORITHMS:
            raise KeyRingError(f"JWT_ALGORITHM must be one of {', '.join(HMAC_ALGORITHMS)}")
        return cls([SigningKey.from_secret(secret.encode(), alg)])


class KeySource(Protocol):
    """Where the codec gets the ring of the moment (a file that may change, or a fixed one)."""

    @property
    def ring(self) -> KeyRing: ...


class FixedKeys:
    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring


def _b64(data: bytes) -> str:
    return b64url_encode(data).decode()


def _member(jwk: dict, name: str) -> bytes:
    value = jwk.get(name)
    try:
        return b64url_decode(value.encode("ascii"))
    except (AttributeError, UnicodeEncodeError, ValueError):
        raise KeyRingError(f"a key's {name} is not base64url") from None


def _expect(jwk: dict, **members: str) -> None:
    for name, value in members.items():
        if jwk.get(name) != value:
            raise KeyRingError(f"a key's {name} is {jwk.get(name)!r}, not {value!r}")
