"""Ledger errors (messages carry sizes and sequence numbers only, never personal data)."""

from __future__ import annotations

from lendshield.errors import BadRequest, Conflict, Forbidden, InvalidInput, LendShieldError, NotFound


class LedgerError(LendShieldError):
    code = "ledger-error"


class EntryNotFound(NotFound):
    code = "ledger-entry-not-found"
    title = "No such ledger entry"


class NotYetIntegrated(Conflict):
    code = "ledger-not-integrated"
    title = "Entry not yet in a signed checkpoint"


class NoCheckpoint(NotFound):
    code = "ledger-no-checkpoint"
    title = "No signed checkpoint yet"


class BadProofRequest(BadRequest):
    code = "ledger-bad-proof-request"
    title = "Bad proof request"


class TileNotFound(NotFound):
    code = "ledger-tile-not-found"
    title = "No such tile"


class InconsistentTree(LedgerError):
    """The integrator refuses to sign: the tree no longer extends the last signed checkpoint."""

    status = 500
    code = "ledger-inconsistent"
    title = "Ledger inconsistent with its last checkpoint"


class CorruptEntry(LedgerError):
    status = 500
    code = "ledger-corrupt-entry"
    title = "A stored ledger entry does not match its hash or sequence"


class EntryForbidden(Forbidden):
    code = "ledger-entry-forbidden"


class BadCosignature(InvalidInput):
    code = "ledger-bad-cosignature"
    title = "Cosignature rejected"
