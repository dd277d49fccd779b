"""Tables of the rights domain."""

from __future__ import annotations
