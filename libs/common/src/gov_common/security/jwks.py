"""The public keys that verify bearer tokens, fetched from the issuer's JWKS URL and trusted
for a bounded time (docs/security.md, "Authentication").

- A fetched key set is trusted for ``ttl_s`` (``GOV_AUTH_JWKS_CACHE_TTL_S``, 300 s) from the
  fetch that returned it. A key removed from the issuer's JWKS is therefore refused at most
  ``ttl_s`` after its removal, by every replica, without a restart.
- Once half of that has passed, the next request that needs a key fetches the set again, so a
  short outage of the issuer costs nothing: a failed fetch is logged and the cached keys keep
  working until they expire. Past that, bearer tokens are refused as "keys unavailable" until a
  fetch succeeds; the set is never trusted longer than ``ttl_s`` on a failed fetch's account.
- A token naming a ``kid`` the cached set lacks (a new key during a rotation) triggers a
  fetch, but fetches beyond the scheduled one happen at most once per ``min_refetch_s``
  (``GOV_AUTH_JWKS_MIN_REFETCH_S``, 30 s): tokens with forged ``kid``s cannot make requests
  call the issuer, and a failing issuer is asked at most that often.
- The fetch is httpx's async client with a short timeout (``GOV_AUTH_JWKS_TIMEOUT_S``, 5 s):
  it never blocks the event loop, and concurrent requests share one fetch.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import structlog
from jwt import PyJWK, PyJWKSet

log = structlog.get_logger(__name__)


class KeysUnavailableError(Exception):
    """No trusted key set: the issuer's JWKS could not be fetched and the cached one expired."""


@dataclass(frozen=True)
class TrustedKey:
    key: Any  # the public key object PyJWT verifies with
    # Until when (on the cache's clock) it may be trusted without a fetch confirming it.
    until: float


class JwksCache:
    def __init__(
        self,
        url: str,
        *,
        ttl_s: float = 300.0,
        min_refetch_s: float = 30.0,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("the JWKS cache lifetime must be positive")
        if not 0 <= min_refetch_s <= ttl_s / 2:
            raise ValueError(
                "GOV_AUTH_JWKS_MIN_REFETCH_S must be between 0 and half of "
                "GOV_AUTH_JWKS_CACHE_TTL_S, or the set would expire before it is fetched again"
            )
        self._url = url
        self._ttl = ttl_s
        self._min_refetch = min_refetch_s
        self._timeout = timeout_s
        self._clock = clock
        self._transport = transport
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = -math.inf  # last successful fetch
        self._attempted_at = -math.inf  # last fetch, whatever its outcome
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._inflight: asyncio.Future[None] | None = None

    @property
    def expires_at(self) -> float:
        """The last instant the cached set is trusted (on the cache's clock)."""
        return self._fetched_at + self._ttl

    @property
    def ttl_s(self) -> float:
        return self._ttl

    @property
    def min_refetch_s(self) -> float:
        return self._min_refetch

    async def key(self, kid: str) -> TrustedKey:
        """The key named ``kid``, fetching the set first when it is due."""
        now = self._clock()
        unknown = kid not in self._keys
        lock = self._loop_lock()
        if lock.locked():
            # A fetch is under way. Join it if this token needs what it brings; otherwise the
            # cached key is still trusted and the request goes on at once.
            if unknown or now > self.expires_at:
                async with lock:
                    pass
        elif self._due(now, unknown):
            async with lock:
                # Another request may have fetched while this one waited for the lock.
                if self._due(self._clock(), kid not in self._keys):
                    # Shielded: a caller that goes away (a client disconnecting) does not cut
                    # the fetch short, which would leave the set unfetched until the next
                    # allowed attempt.
                    self._inflight = asyncio.ensure_future(self._fetch())
                    await asyncio.shield(self._inflight)
        now = self._clock()
        if now > self.expires_at:
            raise KeysUnavailableError(
                "the token issuer's signing keys cannot be fetched right now; try again shortly"
            )
        key = self._keys.get(kid)
        if key is None:
            raise LookupError(kid)
        return TrustedKey(key.key, self.expires_at)

    def _due(self, now: float, unknown_kid: bool) -> bool:
        if now - self._attempted_at < self._min_refetch:
            return False  # asked recently: not again, whatever the tokens say
        return unknown_kid or now >= self._fetched_at + self._ttl / 2

    def _loop_lock(self) -> asyncio.Lock:
        # A lock belongs to one event loop; a verifier may outlive one (tests run several).
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def _fetch(self) -> None:
        self._attempted_at = self._clock()
        try:
            async with httpx.AsyncClient(
                timeout=self._timeout, transport=self._transport, follow_redirects=False
            ) as client:
                response = await client.get(self._url, headers={"accept": "application/json"})
                response.raise_for_status()
                document = response.json()
            keys = _signing_keys(document)
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            now = self._clock()
            # A fresh logger each time (this is rare): what is configured now, not at import.
            structlog.get_logger(__name__).warning(
                "auth.jwks_fetch_failed",
                url=self._url,
                error=repr(exc),
                cached_keys=sorted(self._keys),
                # How much longer the cached keys are trusted; 0: bearer tokens are refused.
                trusted_for_s=round(max(0.0, self.expires_at - now), 1),
            )
            return
        if set(keys) != set(self._keys):
            log.info("auth.jwks_changed", url=self._url, keys=sorted(keys))
        self._keys = keys
        self._fetched_at = self._attempted_at


def _signing_keys(document: Any) -> dict[str, PyJWK]:
    """The document's signature keys by ``kid``; keys without one, or for encryption, are
    left out. An empty ``keys`` list is a valid answer (the issuer trusts no key)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (no 'keys' list)")
    if not document["keys"]:
        return {}
    return {
        key.key_id: key
        for key in PyJWKSet.from_dict(document).keys
        if key.key_id and key.public_key_use in (None, "sig")
    }
