"""The transparency ledger: the only package that writes the log."""

from lendshield.ledger.entry import Entry, canonical, digest_of
from lendshield.ledger.refs import subject_ref
from lendshield.ledger.service import append

__all__ = ["Entry", "append", "canonical", "digest_of", "subject_ref"]
