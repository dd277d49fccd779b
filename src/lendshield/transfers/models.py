"""Tables of the transfers domain."""

from __future__ import annotations
