"""The tiled tree in the database: the batched integrator, signed checkpoints and proofs.

Tiles follow C2SP tlog-tiles (https://c2sp.org/tlog-tiles): a tile at level L holds up to 256
hashes of complete subtrees of height 8L; a tile's hashes are a prefix of its full tile, so a
partial tile of width W is the first W hashes. Hashing follows RFC 9162 (``ledger.merkle``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, exists, insert, literal, or_, select, text, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lendshield.crypto import signing
from lendshield.ledger import merkle, note
from lendshield.ledger.errors import CorruptEntry, InconsistentTree, LedgerError, TileNotFound
from lendshield.ledger.models import LedgerCheckpoint, LedgerCosignature, LedgerEntryRow, LedgerTile, LedgerTileInner
from lendshield.ledger.prepared import Prepared
from lendshield.runtime import Runtime

TILE_WIDTH = 256
TILE_HEIGHT = 8
GROUP = 16  # hashes per stored inner node of a tile (height 4 inside the tile)
H = merkle.HASH_SIZE
LOG_KEY_NAME = "ledger"
# PostgreSQL advisory lock id serialising integrators across processes ("LSLEDGER").
_PG_LOCK = 0x4C534C4544474552


def group_hashes(data: bytes) -> bytes:
    """The inner nodes kept for a tile: the hash of each complete group of GROUP hashes."""
    step = GROUP * H
    return b"".join([merkle.root_of_packed(data[i : i + step]) for i in range(0, len(data) - step + 1, step)])


_TILE_QUERIES: dict[tuple[tuple[int, ...], bool], Prepared] = {}


def _tiles_query(shape: tuple[int, ...], inner: bool) -> Prepared:
    """Tiles (and their inner rows) of ``shape[k]`` indices at each of ``len(shape)`` levels.

    One ``(level = ? AND index IN (...))`` per level: SQLite answers each from the primary key
    (a row-value IN over (level, index) makes it scan the table). Built once per shape; a proof
    about one leaf has one or two indices per level, so there are few shapes.
    """
    found = _TILE_QUERIES.get((shape, inner))
    if found is not None:
        return found

    def where(table: type[LedgerTile] | type[LedgerTileInner]) -> ColumnElement[bool]:
        return or_(
            *(
                (table.level == bindparam(f"l{k}")) & table.index.in_([bindparam(f"i{k}_{j}") for j in range(n)])
                for k, n in enumerate(shape)
            )
        )

    stmt = select(LedgerTile.level, LedgerTile.index, LedgerTile.width, LedgerTile.hashes, literal(0).label("kind"))
    stmt = stmt.where(where(LedgerTile))
    if inner:
        groups = select(
            LedgerTileInner.level, LedgerTileInner.index, LedgerTileInner.width, LedgerTileInner.hashes, literal(1).label("kind")
        ).where(where(LedgerTileInner))
        query = Prepared(union_all(stmt, groups).order_by(text("width")))
    else:
        query = Prepared(stmt.order_by(LedgerTile.width))
    if len(_TILE_QUERIES) >= 256:
        _TILE_QUERIES.clear()
    _TILE_QUERIES[(shape, inner)] = query
    return query


class TileReader:
    """Reads tiles (widest stored width) with a per-instance cache and answers merkle ``node``.

    With ``inner=True`` (serving proofs) a node of 16 to 128 hashes inside a tile is hashed from
    the tile's stored group hashes (``LedgerTileInner``) when they cover it. The integrator and
    the audit leave it False: what they sign or check is hashed from the tiles themselves.
    """

    def __init__(self, session: Session, *, inner: bool = False) -> None:
        self._session = session
        self._inner = inner
        self._cache: dict[tuple[int, int], bytes] = {}
        self._groups: dict[tuple[int, int], bytes] = {}

    def tile(self, level: int, index: int) -> bytes:
        key = (level, index)
        data = self._cache.get(key)
        if data is None:
            data = self._widest(LedgerTile, level, index)
            self._cache[key] = data
        return data

    def groups(self, level: int, index: int) -> bytes:
        key = (level, index)
        data = self._groups.get(key)
        if data is None:
            data = self._widest(LedgerTileInner, level, index)
            self._groups[key] = data
        return data

    def _widest(self, table: type[LedgerTile] | type[LedgerTileInner], level: int, index: int) -> bytes:
        found = self._session.execute(
            select(table.hashes).where(table.level == level, table.index == index).order_by(table.width.desc()).limit(1)
        ).scalar_one_or_none()
        return bytes(found) if found is not None else b""

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
        keys = sorted(wanted)
        by_level: dict[int, list[int]] = {}
        for lvl, idx in keys:
            by_level.setdefault(lvl, []).append(idx)
        shape = tuple(len(idxs) for idxs in by_level.values())
        params: dict[str, int] = {}
        for k, (lvl, idxs) in enumerate(by_level.items()):
            params[f"l{k}"] = lvl
            params.update({f"i{k}_{j}": idx for j, idx in enumerate(idxs)})
        for key in keys:
            self._groups.setdefault(key, b"")
        for lvl, idx, _width, data, kind in _tiles_query(shape, self._inner).run(self._session, params):  # widest last
            (self._groups if kind else self._cache)[(lvl, idx)] = bytes(data)
        for key in keys:
            self._cache.setdefault(key, b"")

    def put(self, level: int, index: int, data: bytes) -> None:
        self._cache[(level, index)] = data

    def node(self, height: int, index: int) -> bytes:
        """Hash of the complete subtree of height ``height`` at ``index``, hashed up from one tile."""
        level, rest = divmod(height, TILE_HEIGHT)
        first = index << rest
        tile_index, offset = divmod(first, TILE_WIDTH)
        data = self.tile(level, tile_index)
        count = 1 << rest
        if len(data) < (offset + count) * H:
            raise merkle.ProofError(f"tiles do not cover subtree ({height}, {index})")
        if self._inner and count >= GROUP:
            # Group hashes are those of the tile's own prefix, so any stored width serves.
            start, n = offset // GROUP, count // GROUP
            groups = self.groups(level, tile_index)[start * H : (start + n) * H]
            if len(groups) == n * H:
                return merkle.root_of_packed(groups)
        return merkle.root_of_packed(data[offset * H : (offset + count) * H])


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


_TILES: Table = LedgerTile.__table__  # type: ignore[assignment]
_INNER: Table = LedgerTileInner.__table__  # type: ignore[assignment]
_ENTRIES: Table = LedgerEntryRow.__table__  # type: ignore[assignment]
# The integrator reads up to ``batch`` bodies per run: on the cursor, not through the ORM.
_NEXT_ENTRIES = Prepared(
    select(_ENTRIES.c.seq, _ENTRIES.c.body, _ENTRIES.c.leaf_hash)
    .where(_ENTRIES.c.seq >= bindparam("old"))
    .order_by(_ENTRIES.c.seq)
    .limit(bindparam("batch"))
)


def _write_tiles(session: Session, reader: TileReader, old_size: int, leaves: list[bytes]) -> None:
    """Append ``leaves`` to the tiles of a tree of ``old_size``, level by level (tlog-tiles).

    Each tile row gets its inner row (group hashes) with the same key; a completed tile's root,
    one hash of the next level, is hashed from its 16 group hashes.
    """
    level, count, added = 0, old_size, b"".join(leaves)
    tiles: list[dict[str, object]] = []
    inner: list[dict[str, object]] = []
    while added:
        start = count // TILE_WIDTH
        existing = reader.tile(level, start)[: (count % TILE_WIDTH) * H]
        data = existing + added
        parents: list[bytes] = []
        for i in range(0, len(data), TILE_WIDTH * H):
            chunk = data[i : i + TILE_WIDTH * H]
            width = len(chunk) // H
            index = start + i // (TILE_WIDTH * H)
            groups = group_hashes(chunk)
            tiles.append({"level": level, "index": index, "width": width, "hashes": chunk})
            if groups:
                inner.append({"level": level, "index": index, "width": width, "hashes": groups})
            reader.put(level, index, chunk)
            if width == TILE_WIDTH:
                # A completed tile's root is one hash of the next tile level (height 8(L+1)).
                parents.append(merkle.root_of_packed(groups))
        level, count, added = level + 1, count // TILE_WIDTH, b"".join(parents)
    if tiles:
        session.execute(insert(_TILES), tiles)
    if inner:
        session.execute(insert(_INNER), inner)


def _verified_leaves(rows: Sequence[Any], old: int) -> list[bytes]:
    """The leaf hashes of ``rows`` (seq, body, stored leaf hash), recomputed from the bodies.

    Raises CorruptEntry at the first sequence gap or body that no longer matches its leaf hash.
    """
    sha256 = hashlib.sha256
    leaves = [sha256(b"\x00" + body.encode()).digest() for _seq, body, _stored in rows]  # entry.leaf_hash
    # Sequence numbers are a unique key read in order: no gap iff the last is where it must be.
    if (rows and (rows[0][0] != old or rows[-1][0] != old + len(rows) - 1)) or leaves != [r[2] for r in rows]:
        for i, (seq, _body, stored) in enumerate(rows, old):
            if seq != i:
                raise CorruptEntry(f"entry sequence gap: expected {i}, found {seq}")
            if leaves[i - old] != bytes(stored):
                raise CorruptEntry(f"entry {seq} does not match its stored leaf hash")
    return leaves


def integrate(session: Session, rt: Runtime, *, batch: int = 200_000) -> Signed | None:
    """Add the next entries to the tiles and sign a checkpoint; None when nothing is new.

    Runs in the caller's transaction. Refuses (InconsistentTree) to sign a checkpoint that the
    stored tiles cannot prove consistent with the last signed one (RFC 9162 §2.1.4), and
    (CorruptEntry) to integrate an entry whose body no longer matches its leaf hash.
    """
    _lock(session)
    last = latest(session)
    old = last.size if last else 0
    rows = _NEXT_ENTRIES.run(session, {"old": old, "batch": batch})
    if not rows and last is not None:
        return None
    return _extend(session, rt, last, _verified_leaves(rows, old))


def unsafe_integrate_leaf_hashes(session: Session, rt: Runtime, leaves: list[bytes]) -> Signed:
    """Benchmarks only: grow the tree by leaf hashes that have no entry rows, and sign it.

    Builds a tree of millions of leaves in seconds, through the integrator's own tile writing,
    root, consistency check and signing. Refuses a log that has any entry, so it can never add
    leaves to a real log (whose ``audit`` would then report them as signed but missing).
    """
    _lock(session)
    if session.execute(select(exists().where(LedgerEntryRow.seq >= 0))).scalar():
        raise LedgerError("refusing to add bare leaf hashes to a log that has entries")
    return _extend(session, rt, latest(session), leaves)


def _extend(session: Session, rt: Runtime, last: LedgerCheckpoint | None, leaves: list[bytes]) -> Signed:
    old = last.size if last else 0
    reader = TileReader(session)
    try:
        _write_tiles(session, reader, old, leaves)
    except IntegrityError as exc:  # another integrator wrote these tiles first
        raise LedgerError("another integrator is running") from exc
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
