"""Secrets of the built-in issuer's clients and people, hashed with Argon2id (pwdlib over
argon2-cffi) in the PHC string format, so each hash carries its own parameters and salt:
``$argon2id$v=19$m=19456,t=2,p=1$<salt>$<digest>``.

Verification is CPU- and memory-bound (tens of milliseconds), so the token endpoint runs it in
a worker thread (:func:`verify_off_loop`), never on the event loop, and at most
:data:`MAX_CONCURRENT_VERIFICATIONS` at a time per process, which bounds the memory it takes.

Hashes of the first format (``scrypt$<salt>$<digest>``, N=2^14, r=8, p=1, parameters not
stored) still verify, and so does an Argon2 hash made with other parameters than today's; both
come back with a replacement hash made with today's parameters (``verify_and_update``) for the
caller to store on that successful sign-in.

``python -m gov_common.security.passwords`` reads a secret from standard input and prints its
hash, for the issuer's accounts file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import sys
import weakref
from asyncio import AbstractEventLoop, get_running_loop
from typing import NamedTuple

import anyio
import anyio.to_thread
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

# OWASP Password Storage Cheat Sheet, Argon2id: "a minimum configuration of 19 MiB of memory,
# an iteration count of 2, and 1 degree of parallelism". A stored hash with other values is
# replaced on its next successful sign-in.
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1
# At 19 MiB each, four verifications at once take at most 76 MiB of a pod's memory; more would
# not finish sooner on the one CPU a pod is given.
MAX_CONCURRENT_VERIFICATIONS = 4

_LEGACY_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class LegacyScryptHasher:
    """Verifies the suite's first format, ``scrypt$<salt b64>$<digest b64>`` (hashlib.scrypt,
    N=2^14, r=8, p=1); never makes one. Every such hash needs rehashing."""

    @classmethod
    def identify(cls, hash: str | bytes) -> bool:
        text = hash.decode(errors="replace") if isinstance(hash, bytes) else hash
        return text.startswith("scrypt$")

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        raise NotImplementedError("scrypt hashes are only verified; new hashes are Argon2id")

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        text = hash.decode() if isinstance(hash, bytes) else hash
        secret = password.encode() if isinstance(password, str) else password
        try:
            _, salt_b64, digest_b64 = text.split("$")
            salt = base64.b64decode(salt_b64, validate=True)
            expected = base64.b64decode(digest_b64, validate=True)
        except (ValueError, binascii.Error):
            return False
        if not salt or not expected:
            return False
        digest = hashlib.scrypt(secret, salt=salt, dklen=len(expected), **_LEGACY_SCRYPT)
        return hmac.compare_digest(digest, expected)

    def check_needs_rehash(self, hash: str | bytes) -> bool:
        return True


_HASHING = PasswordHash(
    (
        Argon2Hasher(
            time_cost=ARGON2_TIME_COST,
            memory_cost=ARGON2_MEMORY_KIB,
            parallelism=ARGON2_PARALLELISM,
        ),
        LegacyScryptHasher(),
    )
)


class Verification(NamedTuple):
    ok: bool
    # A hash with today's parameters to store in place of the one verified, when that one is
    # of an old format or has other parameters; None when nothing needs replacing.
    replacement: str | None = None


def hash_secret(secret: str) -> str:
    """An Argon2id hash of ``secret`` in PHC format, with today's parameters."""
    return _HASHING.hash(secret)


def verify_and_update(secret: str, stored: str) -> Verification:
    """Does ``secret`` match ``stored``; and, when it does, the hash to store instead (or None).
    A hash of no known format never matches."""
    try:
        ok, replacement = _HASHING.verify_and_update(secret, stored)
    except UnknownHashError:
        return Verification(False)
    return Verification(ok, replacement if ok else None)


def verify_secret(secret: str, stored: str) -> bool:
    return verify_and_update(secret, stored).ok


_limiters: weakref.WeakKeyDictionary[AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _limiter() -> anyio.CapacityLimiter:
    loop = get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(MAX_CONCURRENT_VERIFICATIONS)
    return limiter


async def verify_off_loop(secret: str, stored: str) -> Verification:
    """:func:`verify_and_update` in a worker thread, so the event loop keeps serving."""
    return await anyio.to_thread.run_sync(verify_and_update, secret, stored, limiter=_limiter())


# Verified against when the account is unknown, so that answer takes as long as a wrong password.
DUMMY_HASH = hash_secret("no account has this secret")


if __name__ == "__main__":
    print(hash_secret(sys.stdin.readline().rstrip("\n")))
