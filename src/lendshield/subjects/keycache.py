"""A bounded in-process cache of unwrapped data keys, as ready ciphers.

Keyed by the subject and the wrapped key's bytes, so a shredded or re-wrapped key is never served
from here: every read still fetches the subject's key row, and a missing row means the data is
gone. Holding the cipher rather than the raw key saves building an AES-GCM context per read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from lendshield.crypto import FieldCipher


class DataKeyCache:
    def __init__(self, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._items: OrderedDict[tuple[str, bytes], FieldCipher] = OrderedDict()
        self._lock = threading.Lock()

    def cipher(self, subject_id: str, wrapped: bytes, unwrap: Callable[[], bytes]) -> FieldCipher:
        """The subject's cipher for this wrapped key; ``unwrap`` is called only on a miss."""
        key = (subject_id, wrapped)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        made = FieldCipher(subject_id, unwrap())
        if self._capacity > 0:
            with self._lock:
                self._items[key] = made
                self._items.move_to_end(key)
                while len(self._items) > self._capacity:
                    self._items.popitem(last=False)
        return made

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
