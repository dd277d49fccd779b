"""The tiled tree in the database: the batched integrator, signed checkpoints and proofs.

Tiles follow C2SP tlog-tiles (https://c2sp.org/tlog-tiles): a tile at level L holds up to 256
hashes of complete subtrees of height 8L; a tile's hashes are a prefix of its full tile, so a
partial tile of width W is the first W hashes. Hashing follows RFC 9162 (``ledger.merkle``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lendshield.crypto import signing
from lendshield.ledger import merkle, note
from lendshield.ledger.entry import leaf_hash
from lendshield.ledger.errors import CorruptEntry, InconsistentTree, LedgerError, TileNotFound
from lendshield.ledger.models import LedgerCheckpoint, LedgerCosignature, LedgerEntryRow, LedgerTile
from lendshield.runtime import Runtime

TILE_WIDTH = 256
TILE_HEIGHT = 8
H = merkle.HASH_SIZE
LOG_KEY_NAME = "ledger"
# PostgreSQL advisory lock id serialising integrators across processes ("LSLEDGER").
_PG_LOCK = 0x4C534C4544474552


class TileReader:
    """Reads tiles (widest stored width) with a per-instance cache and answers merkle ``node``."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._cache: dict[tuple[int, int], bytes] = {}

    def tile(self, level: int, index: int) -> bytes:
        key = (level, index)
        data = self._cache.get(key)
        if data is None:
            data = (
                self._session.execute(
                    select(LedgerTile.hashes)
                    .where(LedgerTile.level == level, LedgerTile.index == index)
                    .order_by(LedgerTile.width.desc())
                    .limit(1)
                ).scalar_one_or_none()
                or b""
            )
            self._cache[key] = data
        return data

    def prefetch(self, size: int, *leaves: int) -> None:
        """Load in one query every tile a proof about ``leaves`` in a tree of ``size`` reads.

        At tile level L a proof reads only the tile holding each leaf's ancestor and the tile at
        the right edge of the tree (the complete subtrees of RFC 9162's split of ``size``).
        """
        wanted: set[tuple[int, int]] = set()
        level = 0
        while size > 0 and (1 << (TILE_HEIGHT * level)) <= size:
            shift = TILE_HEIGHT * (level + 1)
            wanted.update((level, p >> shift) for p in (*leaves, size - 1))
            level += 1
        wanted -= set(self._cache)
        if not wanted:
            return
        rows = self._session.execute(
            select(LedgerTile.level, LedgerTile.index, LedgerTile.hashes)
            .where(tuple_(LedgerTile.level, LedgerTile.index).in_(sorted(wanted)))
            .order_by(LedgerTile.width)
        )
        for lvl, idx, data in rows:  # widest last, so it wins
            self._cache[(lvl, idx)] = bytes(data)

    def put(self, level: int, index: int, data: bytes) -> None:
        self._cache[(level, index)] = data

    def node(self, height: int, index: int) -> bytes:
        """Hash of the complete subtree of height ``height`` at ``index``, hashed up from one tile."""
        level, rest = divmod(height, TILE_HEIGHT)
        first = index << rest
        tile_index, offset = divmod(first, TILE_WIDTH)
        data = self.tile(level, tile_index)
        count = 1 << rest
        chunk = data[offset * H : (offset + count) * H]
        if len(chunk) != count * H:
            raise merkle.ProofError(f"tiles do not cover subtree ({height}, {index})")
        return merkle.root_of([chunk[i : i + H] for i in range(0, len(chunk), H)])


@dataclass(frozen=True, slots=True)
class Signed:
    size: int
    root: bytes
    note: str


def log_public_key(rt: Runtime) -> str:
    """The log's verifier key (C2SP signed-note), named by the origin."""
    _version, key = rt.keys.signing_key(LOG_KEY_NAME)
    return signing.verifier_key(rt.settings.ledger_origin, signing.public_bytes(key))


def latest(session: Session) -> LedgerCheckpoint | None:
    return session.execute(select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(1)).scalar_one_or_none()


def checkpoint_at(session: Session, size: int) -> LedgerCheckpoint | None:
    return session.get(LedgerCheckpoint, size)


def with_cosignatures(session: Session, cp: LedgerCheckpoint) -> str:
    """The checkpoint note with every stored witness cosignature line appended."""
    lines = session.execute(
        select(LedgerCosignature.line).where(LedgerCosignature.size == cp.size).order_by(LedgerCosignature.witness)
    ).scalars()
    return cp.note + "".join(lines)


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK - (1 << 63)})


def _write_tiles(session: Session, reader: TileReader, old_size: int, leaves: list[bytes]) -> None:
    """Append ``leaves`` to the tiles of a tree of ``old_size``, level by level (tlog-tiles)."""
    level, count, added = 0, old_size, b"".join(leaves)
    while added:
        start = count // TILE_WIDTH
        existing = reader.tile(level, start)[: (count % TILE_WIDTH) * H]
        data = existing + added
        parents: list[bytes] = []
        for i in range(0, len(data), TILE_WIDTH * H):
            chunk = data[i : i + TILE_WIDTH * H]
            width = len(chunk) // H
            index = start + i // (TILE_WIDTH * H)
            session.add(LedgerTile(level=level, index=index, width=width, hashes=chunk))
            reader.put(level, index, chunk)
            if width == TILE_WIDTH:
                # A completed tile's root is one hash of the next tile level (height 8(L+1)).
                parents.append(merkle.root_of([chunk[j : j + H] for j in range(0, len(chunk), H)]))
        level, count, added = level + 1, count // TILE_WIDTH, b"".join(parents)


def integrate(session: Session, rt: Runtime, *, batch: int = 200_000) -> Signed | None:
    """Add the next entries to the tiles and sign a checkpoint; None when nothing is new.

    Runs in the caller's transaction. Refuses (InconsistentTree) to sign a checkpoint that the
    stored tiles cannot prove consistent with the last signed one (RFC 9162 §2.1.4), and
    (CorruptEntry) to integrate an entry whose body no longer matches its leaf hash.
    """
    _lock(session)
    last = latest(session)
    old = last.size if last else 0
    rows = session.execute(
        select(LedgerEntryRow.seq, LedgerEntryRow.body, LedgerEntryRow.leaf_hash)
        .where(LedgerEntryRow.seq >= old)
        .order_by(LedgerEntryRow.seq)
        .limit(batch)
    ).all()
    if not rows and last is not None:
        return None
    leaves: list[bytes] = []
    for i, (seq, body, stored) in enumerate(rows):
        if seq != old + i:
            raise CorruptEntry(f"entry sequence gap: expected {old + i}, found {seq}")
        computed = leaf_hash(body.encode())
        if computed != bytes(stored):
            raise CorruptEntry(f"entry {seq} does not match its stored leaf hash")
        leaves.append(computed)
    reader = TileReader(session)
    _write_tiles(session, reader, old, leaves)
    size = old + len(leaves)
    try:
        root = merkle.subtree_hash(0, size, reader.node) if size else merkle.EMPTY_ROOT
        if last is not None:
            proof = merkle.consistency_proof(old, size, reader.node)
            merkle.verify_consistency(old, size, bytes(last.root), root, proof)
    except merkle.ProofError as exc:
        raise InconsistentTree(f"refusing to sign size {size}: {exc}") from exc
    origin = rt.settings.ledger_origin
    body = note.Checkpoint(origin, size, root).body()
    _version, key = rt.keys.signing_key(LOG_KEY_NAME)
    kid, sig = signing.sign_note_line(key, origin, body)
    signed = body + "\n" + note.signature_line(origin, kid, sig)
    session.add(LedgerCheckpoint(size=size, root=root, note=signed, created_at=rt.clock.now()))
    try:
        session.flush()
    except IntegrityError as exc:  # another integrator signed this size first
        raise LedgerError("another integrator is running") from exc
    return Signed(size, root, signed)


def integrate_all(rt: Runtime) -> list[Signed]:
    """Integrate until caught up, one transaction per batch (the CLI and the job use this)."""
    out: list[Signed] = []
    while True:
        with rt.sessions() as session:
            signed = integrate(session, rt)
            session.commit()
        if signed is None:
            return out
        out.append(signed)
        if len(out) > 1 and out[-1].size == out[-2].size:
            return out


def read_tile(session: Session, level: int, index: int, width: int | None) -> bytes:
    """A full tile (``width`` None) or the partial tile of exactly ``width`` hashes."""
    stmt = select(LedgerTile.hashes).where(LedgerTile.level == level, LedgerTile.index == index)
    stmt = stmt.where(LedgerTile.width == (width if width is not None else TILE_WIDTH))
    data = session.execute(stmt).scalar_one_or_none()
    if data is None:
        raise TileNotFound(f"no tile {level}/{index}" + (f".p/{width}" if width is not None else ""))
    return bytes(data)
