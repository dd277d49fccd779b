"""Tables of the dlp domain."""

from __future__ import annotations
