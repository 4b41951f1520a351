"""Secrets of the built-in issuer's clients and people, hashed with scrypt (standard library).

``python -m gov_common.security.passwords`` reads a secret from standard input and prints its
hash, for the issuer's configuration.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sys

_N, _R, _P = 2**14, 8, 1


def hash_secret(secret: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "scrypt$" + "$".join(base64.b64encode(x).decode() for x in (salt, digest))


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=len(expected))
    return hmac.compare_digest(digest, expected)


if __name__ == "__main__":
    print(hash_secret(sys.stdin.readline().rstrip("\n")))
