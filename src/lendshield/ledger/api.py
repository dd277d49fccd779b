"""HTTP routes of the ledger domain.

Checkpoint, tiles, consistency proofs and the public key are public: they carry hashes only and
exist so that auditors and witnesses can check the log. Entries and bundles need a principal.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.exc import IntegrityError

from lendshield.errors import Forbidden
from lendshield.ledger import note, proofs, tree
from lendshield.ledger.errors import BadCosignature, BadProofRequest, NoCheckpoint, TileNotFound
from lendshield.ledger.models import LedgerCosignature
from lendshield.web.deps import PrincipalDep, RuntimeDep, unit_of_work

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])
MAX_TILE_LEVEL = 8
MAX_INT64 = 2**63 - 1  # sequence numbers and tree sizes are BIGINT columns


@router.get("/checkpoint", response_class=PlainTextResponse)
def get_checkpoint(rt: RuntimeDep) -> PlainTextResponse:
    """The latest signed checkpoint (C2SP signed note) with witness cosignatures."""
    with unit_of_work(rt) as session:
        cp = tree.latest(session)
        if cp is None:
            raise NoCheckpoint("the log has not signed a checkpoint yet")
        text = tree.with_cosignatures(session, cp)
    return PlainTextResponse(text, headers={"Cache-Control": "no-store"})


@router.get("/key", response_class=PlainTextResponse)
def get_key(rt: RuntimeDep) -> PlainTextResponse:
    """The log's verifier key ``<origin>+<key id>+<base64(0x01 || Ed25519 public key)>``."""
    return PlainTextResponse(tree.log_public_key(rt) + "\n")


def parse_tile_path(level: str, rest: str) -> tuple[int, int, int | None]:
    """tlog-tiles: ``<L>/<N>[.p/<W>]`` with N in 3-digit groups, all but the last prefixed 'x'."""
    width: int | None = None
    if ".p/" in rest:
        rest, _, w = rest.partition(".p/")
        if not w.isdigit() or not 1 <= int(w) <= 255 or (len(w) > 1 and w[0] == "0"):
            raise BadProofRequest("partial tile width must be 1..255")
        width = int(w)
    if not level.isdigit() or int(level) > MAX_TILE_LEVEL:
        raise BadProofRequest("bad tile level")
    groups = rest.split("/")
    digits = ""
    for i, g in enumerate(groups):
        last = i == len(groups) - 1
        g2 = g if last else g.removeprefix("x")
        if (not last and not g.startswith("x")) or len(g2) != 3 or not g2.isdigit():
            raise BadProofRequest("bad tile index path")
        digits += g2
    index = int(digits)
    if index > MAX_INT64:
        raise BadProofRequest("bad tile index path")
    return int(level), index, width


@router.get("/tile/{level}/{rest:path}")
def get_tile(rt: RuntimeDep, level: str, rest: str) -> Response:
    lvl, index, width = parse_tile_path(level, rest)
    with unit_of_work(rt) as session:
        data = tree.read_tile(session, lvl, index, width)
    if width is None and len(data) != tree.TILE_WIDTH * tree.H:
        raise TileNotFound("tile not full yet")
    # Full tiles never change; partial tiles of a given width never change either.
    return Response(data, media_type="application/octet-stream", headers={"Cache-Control": "public, max-age=31536000, immutable"})


@router.get("/entries/{seq}")
def get_entry(rt: RuntimeDep, principal: PrincipalDep, seq: Annotated[int, Path(ge=0, le=MAX_INT64)]) -> dict[str, Any]:
    with unit_of_work(rt) as session:
        return proofs.entry_with_proof(session, rt, principal, seq)


@router.get("/consistency")
def get_consistency(
    rt: RuntimeDep, first: Annotated[int, Query(ge=0, le=MAX_INT64)], second: Annotated[int, Query(ge=0, le=MAX_INT64)]
) -> dict[str, Any]:
    with unit_of_work(rt) as session:
        return proofs.consistency(session, first, second)


@router.get("/subjects/{subject_id}/bundle")
def get_bundle(rt: RuntimeDep, principal: PrincipalDep, subject_id: str) -> dict[str, Any]:
    if not principal.has_role(*proofs.SEE_ALL_ROLES):
        raise Forbidden("subject bundles are for protection officers and auditors")
    with unit_of_work(rt) as session:
        return proofs.bundle_for_subject(session, rt, subject_id)


@router.post("/cosignatures", status_code=201)
def post_cosignature(
    rt: RuntimeDep, size: Annotated[int, Body(ge=0, le=MAX_INT64)], line: Annotated[str, Body(max_length=500)]
) -> dict[str, Any]:
    """Accept a witness cosignature/v1 line on a signed checkpoint, checked against the registered keys."""
    try:
        _body, sigs = note.split_note("x\n\n" + line.rstrip("\n") + "\n")
    except note.NoteError as exc:
        raise BadCosignature(str(exc)) from exc
    if len(sigs) != 1:
        raise BadCosignature("post exactly one cosignature line")
    sig = sigs[0]
    with unit_of_work(rt) as session:
        cp = tree.checkpoint_at(session, size)
        if cp is None:
            raise BadCosignature(f"no signed checkpoint of size {size}")
        body = cp.note[: cp.note.rfind("\n\n") + 1]
        keys = [k for k in rt.settings.ledger_witness_keys if k.split("+", 1)[0] == sig.name]
        if not keys:
            raise BadCosignature("unknown witness")
        errors = []
        for key in keys:
            try:
                note.verify_cosignature(body, sig, key)
                break
            except note.NoteError as exc:
                errors.append(str(exc))
        else:
            raise BadCosignature("; ".join(errors))
        existing = session.get(LedgerCosignature, (size, sig.name))
        text = note.signature_line(sig.name, sig.key_id, sig.signature)
        if existing is None:
            session.add(LedgerCosignature(size=size, witness=sig.name, line=text, created_at=rt.clock.now()))
        else:
            existing.line = text
        try:
            session.flush()
        except IntegrityError as exc:
            raise BadCosignature("concurrent cosignature; retry") from exc
    return {"size": size, "witness": sig.name}
