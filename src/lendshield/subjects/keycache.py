"""A bounded in-process cache of unwrapped data keys.

Keyed by the wrapped key's bytes, so a shredded or re-wrapped key is never served from here:
every read still fetches the subject's key row, and a missing row means the data is gone.
"""

from __future__ import annotations

import threading
from collections import OrderedDict


class DataKeyCache:
    def __init__(self, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._items: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, wrapped: bytes) -> bytes | None:
        with self._lock:
            dek = self._items.get(wrapped)
            if dek is not None:
                self._items.move_to_end(wrapped)
            return dek

    def put(self, wrapped: bytes, dek: bytes) -> None:
        if self._capacity <= 0:
            return
        with self._lock:
            self._items[wrapped] = dek
            self._items.move_to_end(wrapped)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
