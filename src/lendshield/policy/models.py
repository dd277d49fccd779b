"""Tables of the policy domain."""

from __future__ import annotations
