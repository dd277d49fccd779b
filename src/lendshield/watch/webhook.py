"""The signature on an alert webhook, and what a receiver checks before trusting one.

Each POST carries three headers:

- ``X-LendShield-Timestamp``: the sender's time in Unix seconds;
- ``X-LendShield-Signature``: ``v1=`` and the hex HMAC-SHA256, under the shared secret, of the
  timestamp, a dot and the exact body bytes;
- ``X-LendShield-Delivery``: the outbox row's id, the same on every retry of one delivery.

A receiver recomputes the HMAC over the raw body, compares in constant time, refuses a timestamp
more than ``tolerance_s`` from its own clock, and refuses a signature it has already accepted
within that window (``ReplayGuard``): a captured request can then be neither altered nor
re-sent. A retry is a new request (new timestamp, new signature) with the same delivery id, so
receivers treat the delivery id as the idempotency key. (The same scheme as the collection
adapter's callbacks, so operators verify both the same way.)
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time

SIGNATURE_HEADER = "X-LendShield-Signature"
TIMESTAMP_HEADER = "X-LendShield-Timestamp"
DELIVERY_HEADER = "X-LendShield-Delivery"
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-LendShield-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"{SCHEME}={mac}"


def verify(secret: bytes, *, timestamp: str, body: bytes, signature: str, now: float, tolerance_s: int = DEFAULT_TOLERANCE_S) -> str | None:
    """None when the request is authentic and fresh; otherwise why it is refused (no secret in it)."""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "malformed timestamp"
    if abs(now - int(timestamp)) > tolerance_s:
        return "timestamp outside the tolerance"
    expected = sign(secret, int(timestamp), body).encode("ascii")
    presented = signature.strip().encode("ascii", errors="replace")
    # RFC 2104 MACs compared in constant time: a byte-by-byte comparison leaks the prefix.
    if not hmac.compare_digest(expected, presented):
        return "signature does not match"
    return None


class ReplayGuard:
    """Signatures accepted within the tolerance window; a second sight of one is a replay.

    In memory, for one receiver process; a receiver behind several processes keeps the same set
    in its shared store. Entries older than the window are dropped, since the timestamp check
    already refuses those requests.
    """

    def __init__(self, tolerance_s: int = DEFAULT_TOLERANCE_S) -> None:
        self._tolerance = tolerance_s
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_time(self, signature: str, now: float | None = None) -> bool:
        """Record ``signature``; False if it was already accepted (a replay)."""
        at = time.time() if now is None else now
        with self._lock:
            for old in [s for s, t in self._seen.items() if at - t > 2 * self._tolerance]:
                del self._seen[old]
            if signature in self._seen:
                return False
            self._seen[signature] = at
            return True
