"""Ledger tables: the sequenced entries and the head counter."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lendshield.db.base import Base


class LedgerHead(Base):
    """One row: the next sequence number. Updating it serialises appenders without gaps.

    PostgreSQL's sequencer. On SQLite the write lock every transaction takes (``BEGIN
    IMMEDIATE``) already serialises appenders, and the next number is the last one plus one
    (``ledger.service.append``): the row stays at what it held before.
    """

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_seq: Mapped[int] = mapped_column(BigInteger)


class LedgerEntryRow(Base):
    """One sequenced entry. On SQLite ``seq`` is the rowid (declared INTEGER): one b-tree, not two,
    for the page writes of every append (migration ``ledger_0003``)."""

    __tablename__ = "ledger_entries"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    time: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64))  # filtered only with seq, time or actor bounds
    subject_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    body: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, object] | None] = mapped_column(JSON)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerTile(Base):
    """A C2SP tlog-tiles tile: ``width`` consecutive 32-byte hashes at tile level ``level``.

    Full tiles have width 256; a partial tile is kept for every width a checkpoint needed, so
    a client holding any signed checkpoint can fetch exactly the tiles that checkpoint names.
    """

    __tablename__ = "ledger_tiles"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    width: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerCheckpoint(Base):
    """A signed checkpoint (C2SP signed note); the primary key forbids two roots for one size."""

    __tablename__ = "ledger_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class LedgerCosignature(Base):
    """A witness's cosignature/v1 line on the checkpoint of ``size``, verified before storing."""

    __tablename__ = "ledger_cosignatures"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    witness: Mapped[str] = mapped_column(String(200), primary_key=True)
    line: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class LedgerTileInner(Base):
    """Inner nodes of a stored tile: the hashes of its complete 16-hash groups, in order.

    Not part of the tlog-tiles format and never served. A proof needs, inside each tile, the
    hash of a subtree of up to 128 of its hashes; with these it hashes at most 8 stored group
    hashes instead of up to 128 tile hashes. Written beside each tile row, with the same key; a
    tile without one (written before this table existed) is hashed from its own hashes.
    ``lendshield ledger audit`` checks every row against its tile.
    """

    __tablename__ = "ledger_tile_inner"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    width: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)
