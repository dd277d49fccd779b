"""Tables of the collection domain."""

from __future__ import annotations
