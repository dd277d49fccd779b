"""The transparency ledger: the only package that writes the log.

``append`` is loaded on first use so that the offline verifier (``ledger.verify``), which
borrowers and outside tools import, never pulls in SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lendshield.ledger.entry import Entry, canonical, digest_of
from lendshield.ledger.refs import subject_ref

if TYPE_CHECKING:
    from lendshield.ledger.service import append

__all__ = ["Entry", "append", "canonical", "digest_of", "subject_ref"]


def __getattr__(name: str) -> Any:
    if name == "append":
        from lendshield.ledger.service import append

        globals()["append"] = append  # found directly from now on: every request appends
        return append
    raise AttributeError(name)
