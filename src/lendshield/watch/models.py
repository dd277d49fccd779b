"""Tables of the watch domain."""

from __future__ import annotations
