"""The access (PIPL Art. 45) and portability (Art. 45 third paragraph; 网数条例 Art. 25) package.

A zip holding ``data.json`` (schema in docs/rights.md), CSV copies, a short Chinese/English
readme, the ledger bundle (``ledger/bundle.json``, verifiable offline with ``lendshield verify``)
and collection evidence files under ``collection/``. Fields are read in clear through the gate
by the officer who fulfils the request, for the purpose ``rights_request``.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import importlib
import io
import json
import zipfile
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield.consent import service as consent
from lendshield.ledger import proofs, tree
from lendshield.principals import Principal
from lendshield.rights import decisions, holds
from lendshield.rights.models import RightsRequestRow
from lendshield.rights.service import view_of
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects

ACCESS_FORMAT = "lendshield-access-package/v1"
PORTABILITY_FORMAT = "lendshield-portability-package/v1"
PURPOSE = "rights_request"

README = """LendShield 个人信息副本 / Copy of your personal information
=========================================================

中文
----
本压缩包是您依《个人信息保护法》第四十五条申请查阅、复制（或转移）的个人信息副本。
- data.json：全部内容（机器可读，格式见 lendshield 文档 docs/rights.md）
- fields.csv、consents.csv、requests.csv：表格副本
- ledger/bundle.json：与您有关的透明日志记录及其包含证明。请用公开的日志公钥离线验证：
  lendshield verify ledger/bundle.json --key 日志公钥
- collection/：催收沟通记录与录音（如有）
如有疑问，请联系个人信息保护负责人。

English
-------
This archive is the copy of your personal information you asked for under PIPL Art. 45
(access and copy, or portability).
- data.json: everything, machine-readable (schema in the LendShield docs, docs/rights.md)
- fields.csv, consents.csv, requests.csv: the same as tables
- ledger/bundle.json: the transparency-log entries about you with inclusion proofs. Check them
  offline with the published log key:  lendshield verify ledger/bundle.json --key LOG_KEY
- collection/: records and recordings of collection contacts (if any)
Questions: contact the personal-information protection officer.
"""


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _optional(module: str, function: str) -> Any | None:
    """A collaborator another package provides; None until it exists (the section stays empty)."""
    try:
        return getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError):
        return None


def _recipients(session: Session, rt: Runtime, subject_id: str) -> dict[str, Any]:
    fn = _optional("lendshield.transfers.service", "recipients_of")
    if fn is None:
        return {
            "available": False,
            "note": "the recipient registry is not installed; no provision to third parties was recorded",
            "items": [],
        }
    return {"available": True, "items": _plain(fn(session, rt, subject_id))}


def _evidence(session: Session, rt: Runtime, who: Principal, subject_id: str) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    fn = _optional("lendshield.collection.evidence", "for_subject")
    if fn is None:
        return {"available": False, "note": "collection evidence is not installed", "items": []}, []
    items = fn(session, rt, subject_id, who=who, purpose=PURPOSE)  # relations opened as the officer, in the ledger
    files: list[tuple[str, bytes]] = []
    records = []
    for item in items:
        names = []
        for name, content in item.files:
            safe = name.replace("/", "_").replace("\\", "_")[:120] or "file"
            files.append((f"collection/{safe}", content))
            names.append(f"collection/{safe}")
        records.append({"record": _plain(item.record), "files": names})
    return {"available": True, "items": records}, files


def _bundle(session: Session, rt: Runtime, subject_id: str) -> dict[str, Any]:
    # Sign what this transaction wrote so far, so the reads for this package are proved too.
    tree.integrate(session, rt)
    return proofs.bundle_for_subject(session, rt, subject_id)


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode()  # BOM: spreadsheet programs then read the Chinese


def build(session: Session, rt: Runtime, who: Principal, row: RightsRequestRow) -> bytes:
    """Read everything through the gate as ``who`` and return the zip's bytes."""
    reason = f"{row.type} request {row.id} (PIPL Art. 45)"
    view = subjects.read_fields(session, rt, who, row.subject_id, None, purpose=PURPOSE, reason=reason, clear=True, via="rights_package")
    fields = {
        name: {"value": fv.value, "version": fv.version, "category": rt.catalog.fields[name].category, "shown": fv.effect.value}
        for name, fv in sorted(view.fields.items())
    }
    consents = [_plain(c) for c in consent.history(session, rt, who, row.subject_id)]
    requests = [
        _plain(view_of(r))
        for r in session.scalars(
            select(RightsRequestRow).where(RightsRequestRow.subject_id == row.subject_id).order_by(RightsRequestRow.filed_at)
        )
    ]
    portability = row.type == "portability"
    data: dict[str, Any] = {
        "format": PORTABILITY_FORMAT if portability else ACCESS_FORMAT,
        "generated_at": rt.clock.now().isoformat(),
        "request_id": row.id,
        "subject": {"id": row.subject_id, "kind": view.kind},
        "fields": fields,
        "consents": consents,
    }
    files: list[tuple[str, bytes]] = [
        ("README.txt", README.encode()),
        (
            "fields.csv",
            _csv(["field", "category", "value", "version"], [[n, f["category"], f["value"], f["version"]] for n, f in fields.items()]),
        ),
        (
            "consents.csv",
            _csv(
                ["purpose", "kind", "action", "notice_version", "channel", "recorded_at"],
                [[c["purpose"], c["kind"], c["action"], c["notice_version"], c["channel"], c["recorded_at"]] for c in consents],
            ),
        ),
    ]
    if not portability:
        evidence, evidence_files = _evidence(session, rt, who, row.subject_id)
        data |= {
            "requests": requests,
            "automated_decisions": [_plain(d) for d in decisions.decisions_for(session, rt, who, row.subject_id)],
            "holds": [
                {"kind": h.kind, "reason": h.reason, "ends_on": _plain(h.ends_on), "lifted_at": _plain(h.lifted_at)}
                for h in holds.holds_of(session, row.subject_id)
            ],
            "recipients": _recipients(session, rt, row.subject_id),
            "collection": evidence,
            "ledger_bundle": "ledger/bundle.json",
        }
        files.append(
            (
                "requests.csv",
                _csv(
                    ["id", "type", "status", "filed_at", "due_on", "answered_at"],
                    [[r["id"], r["type"], r["status"], r["filed_at"], r["due_on"], r["answered_at"]] for r in requests],
                ),
            )
        )
        files.extend(evidence_files)
        files.append(("ledger/bundle.json", proofs.dumps(_bundle(session, rt, row.subject_id)).encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))
        for name, content in files:
            archive.writestr(name, content)
    return buffer.getvalue()
