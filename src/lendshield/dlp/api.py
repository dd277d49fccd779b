"""HTTP routes of the dlp domain: scan and redact text (values are masked in every answer)."""

from __future__ import annotations

from fastapi import APIRouter

from lendshield.dlp import schemas, service
from lendshield.dlp.masking import mask_value
from lendshield.web.deps import PrincipalDep, RuntimeDep

router = APIRouter(prefix="/v1/dlp", tags=["dlp"])


@router.post("/scan", response_model=schemas.ScanOut)
def scan(body: schemas.ScanIn, rt: RuntimeDep, _who: PrincipalDep) -> schemas.ScanOut:
    """Personal data in a text: type, span, masked value, confidence and the check that passed."""
    findings = service.scan(rt, body.text, context=body.context)
    return schemas.ScanOut(
        count=len(findings),
        findings=[
            schemas.FindingOut(
                type=f.type,
                start=f.start,
                end=f.end,
                masked=mask_value(f.type, f.normalized),
                confidence=f.confidence,
                validator=f.validator,
                context=f.context,
            )
            for f in findings
        ],
    )


@router.post("/redact", response_model=schemas.RedactOut)
def redact(body: schemas.RedactIn, rt: RuntimeDep, _who: PrincipalDep) -> schemas.RedactOut:
    """The text with its personal data masked, replaced by type labels, or by keyed hashes."""
    text, count = service.redact(rt, body.text, body.mode)
    return schemas.RedactOut(text=text, values=count)
