"""Personal data at rest: AES-256-GCM with a keyring, and keyed hashes for lookups.

Ciphertexts name the key that made them (``v1.<kid>.<base64 nonce+ciphertext>``), so keys
rotate without downtime: add the new key, make it active (new writes use it, old rows still
decrypt with their key), re-encrypt old rows in the background, then retire the old key.
The associated data binds a ciphertext to its row and field, so it cannot be copied to another.
Phone and ID numbers are also stored as HMAC-SHA256 blind indexes, which find repeats
without decrypting anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "v1"


class DecryptionError(Exception):
    pass


def _decode_key(encoded: str) -> bytes:
    key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    if len(key) != 32:
        raise ValueError("each key must be 32 bytes, base64url-encoded")
    return key


def parse_keyring(spec: str) -> dict[str, bytes]:
    """``kid1:base64key,kid2:base64key`` (the form the settings take) → {kid: key}."""
    ring: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kid, sep, encoded = part.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", kid):
            raise ValueError("keyring entries are kid:base64url-key, kid of [A-Za-z0-9_-]")
        ring[kid] = _decode_key(encoded)
    if not ring:
        raise ValueError("the keyring is empty")
    return ring


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


class FieldCipher:
    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        if active not in keys:
            raise ValueError(f"active key {active!r} is not in the keyring")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self._active = active

    @property
    def active_key(self) -> str:
        return self._active

    def encrypt(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self._active].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{PREFIX}.{self._active}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, *, context: str) -> str:
        try:
            prefix, kid, body = token.split(".", 2)
        except ValueError:
            raise DecryptionError("not a ciphertext of this cipher") from None
        if prefix != PREFIX or kid not in self._keys:
            raise DecryptionError(f"unknown key {kid!r}")
        raw = base64.urlsafe_b64decode(body)
        try:
            return self._keys[kid].decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag:
            raise DecryptionError("ciphertext was altered or belongs elsewhere") from None

    def needs_rotation(self, token: str) -> bool:
        return token.split(".", 2)[1:2] != [self._active]

    def rotate(self, token: str, *, context: str) -> str:
        """The same plaintext under the active key (for background re-encryption)."""
        return self.encrypt(self.decrypt(token, context=context), context=context)


class BlindIndex:
    """Keyed hashes of normalised identifiers: equal inputs match, nothing can be reversed.

    ``key_id`` names the key (stored beside the hashes it made). While the index is rebuilt
    under a new key, ``previous`` holds the old ones: new hashes use ``key``, and
    :meth:`lookup` gives the hashes under every key, so rows not yet re-indexed still match.
    """

    def __init__(
        self, key: bytes, *, key_id: str = "i1", previous: Mapping[str, bytes] | None = None
    ) -> None:
        for candidate in (key, *(previous or {}).values()):
            if len(candidate) < 32:
                raise ValueError("the blind-index key must be at least 32 bytes")
        self._key = key
        self.key_id = key_id
        self._previous = [k for kid, k in (previous or {}).items() if kid != key_id]

    @staticmethod
    def _mac(key: bytes, kind: str, normalised: str) -> str:
        return hmac.new(key, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()

    def digest(self, kind: str, normalised: str) -> str:
        return self._mac(self._key, kind, normalised)

    def lookup(self, kind: str, normalised: str) -> tuple[str, ...]:
        """The hashes to look for: under the current key first, then under each old one."""
        old = (self._mac(key, kind, normalised) for key in self._previous)
        return (self.digest(kind, normalised), *old)


def parse_index_keys(spec: str) -> dict[str, bytes]:
    """``kid:key,kid:key`` (GOV_PII_PREVIOUS_INDEX_KEYS) → {kid: key bytes, as configured}."""
    keys: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kid, sep, key = part.partition(":")
        if not sep or not key or not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", kid):
            raise ValueError("previous index keys are kid:key, kid of [A-Za-z0-9_-]")
        keys[kid] = key.encode()
    return keys


def key_id_of(token: str) -> str | None:
    """The key id a ciphertext names (``v1.<kid>.…``), None for something else."""
    parts = token.split(".", 2)
    return parts[1] if len(parts) == 3 and parts[0] == PREFIX else None


def normalise_phone(phone: str) -> str:
    """Digits only, without China's +86/0086 prefix: ``+86 139-1234-5678`` → ``13912345678``."""
    digits = re.sub(r"\D", "", phone)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            return digits[len(prefix) :]
    return digits


def normalise_id_number(id_number: str) -> str:
    """Resident ID numbers: no spaces, upper-case check character X."""
    return re.sub(r"\s", "", id_number).upper()


def mask_phone(phone: str) -> str:
    digits = normalise_phone(phone)
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 8 else "****"


def mask_id_number(id_number: str) -> str:
    value = normalise_id_number(id_number)
    return value[:6] + "*" * max(0, len(value) - 10) + value[-4:] if len(value) > 10 else "****"


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***: the family name stays, enough for a call-back."""
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""
