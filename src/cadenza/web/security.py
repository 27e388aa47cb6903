"""Secrets, CSRF tokens, the admin token, IP hashing and a rate limiter.

CSRF: every browser gets a random client cookie; a form's token is an HMAC of that
cookie under the server secret, so a page on another site can neither read nor
forge it. Every comparison of a secret uses ``hmac.compare_digest`` (constant time).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from pathlib import Path

CLIENT_COOKIE = "cz_client"
ADMIN_COOKIE = "cz_admin"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def load_secret(data_dir: Path) -> bytes:
    """The server's secret, made once and kept in ``data_dir/secret.key`` (mode 600)."""
    path = data_dir / "secret.key"
    if not path.exists():
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()


def new_token(nbytes: int = 24) -> str:
    """An opaque random token for URLs and cookies."""
    return secrets.token_urlsafe(nbytes)


def sign(secret: bytes, purpose: str, value: str) -> str:
    return hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def csrf_token(secret: bytes, client: str) -> str:
    return sign(secret, "csrf", client)


def csrf_ok(secret: bytes, client: str | None, given: str | None) -> bool:
    if not client or not given:
        return False
    return hmac.compare_digest(csrf_token(secret, client), given)


def hash_ip(secret: bytes, ip: str) -> str:
    """A salted hash: equal IPs stay comparable, the address itself is not stored."""
    return sign(secret, "ip", ip)


def token_matches(expected: str, given: str | None) -> bool:
    """The admin token check, in constant time."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def admin_cookie(secret: bytes, token: str) -> str:
    return sign(secret, "admin", token)


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds per key (a sliding window)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and now - events[0] > self.window:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True
