"""Tables of the consent domain."""

from __future__ import annotations
