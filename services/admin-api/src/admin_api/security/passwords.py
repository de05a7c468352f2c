"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile).

A hash made with older parameters is re-hashed at the next successful sign-in. Verifying against
an unknown email still runs one argon2 verification, so both failures take the same time.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 takes any length; this caps the work a request can ask for

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("an unknown account still costs one verification")


class WeakPassword(ValueError):
    pass


def check_strength(password: str, *, email: str = "") -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise WeakPassword(f"the password must be {MIN_LENGTH} to {MAX_LENGTH} characters")
    if password.strip() != password or len(set(password)) < 5:
        raise WeakPassword("the password is too simple")
    if email and email.split("@")[0].lower() in password.lower():
        raise WeakPassword("the password must not contain the email name")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when it matches; an unknown account (None) costs the same time and fails."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password[:MAX_LENGTH]) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
