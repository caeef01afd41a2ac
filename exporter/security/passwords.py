"""Password hashes for station (OCPP profile 1/2) and metrics-side Basic auth credentials.

scrypt from the standard library: memory-hard, no extra dependency. Verification runs in a
worker thread (about 40 ms of CPU each) under a LoginGate (login_gate.py: bounded, clean
addresses first, failing ones backed off) and successful checks are remembered by an HMAC of the
credential under a per-process key, so a reconnect storm of 1,000 stations does not cost 1,000
scrypt runs on the event loop's cores, while a wrong password always pays the full price.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections import OrderedDict
from collections.abc import Callable

from exporter.security.login_gate import LoginGate

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_MAXMEM = 64 * 1024 * 1024


class BadHash(ValueError):
    """A stored hash that is not in the scrypt$N$r$p$salt$hash form."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            raise BadHash(f"unsupported scheme {scheme!r}")
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, TypeError) as exc:
        raise BadHash(str(exc)) from None
    return hmac.compare_digest(actual, expected)


# A valid hash of a random password, checked when the user is unknown so that unknown and known
# users take the same time to refuse.
DUMMY_HASH = hash_password(os.urandom(16).hex())


class Verifier:
    """Checks (user, password) against stored hashes, remembering recent successes. The scrypt
    work runs through a LoginGate (bounded, clean addresses first, failing ones backed off)."""

    def __init__(self, cache_size: int = 100_000, gate: LoginGate | None = None) -> None:
        self._key = os.urandom(32)
        self._ok: OrderedDict[bytes, str] = OrderedDict()
        self._cache_size = cache_size
        self.gate = gate or LoginGate()

    def _fingerprint(self, user: str, password: str) -> bytes:
        return hmac.digest(self._key, f"{user}\0{password}".encode(), "sha256")

    async def check(
        self,
        user: str,
        password: str,
        stored: str | None,
        source: str = "",
        alive: Callable[[], bool] = lambda: True,
    ) -> bool:
        """True when `password` matches `stored`; `stored` None (unknown user) is always False
        after the same amount of work. `source` is the client's address (for the gate's
        backoff). Raises LoginsOverloaded when too many checks wait: not a verdict."""
        if stored is None:
            await self.gate.run(source, user, lambda: verify_password(password, DUMMY_HASH), alive)
            return False
        fingerprint = self._fingerprint(user, password)
        cached = self._ok.get(fingerprint)
        # The cache entry names the hash it was verified against: a changed hash re-verifies.
        if cached is not None and hmac.compare_digest(cached, stored):
            self._ok.move_to_end(fingerprint)
            return True
        ok = await self.gate.run(source, user, lambda: verify_password(password, stored), alive)
        if ok:
            self._ok[fingerprint] = stored
            if len(self._ok) > self._cache_size:
                self._ok.popitem(last=False)
        return ok


def parse_basic(header: str) -> tuple[str, str] | None:
    """'Basic base64(user:password)' -> (user, password), None when absent or malformed."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return user, password
