"""The offline verifier must be importable without SQLAlchemy (no database, no network)."""

from __future__ import annotations

import subprocess
import sys


def test_verify_module_does_not_import_sqlalchemy() -> None:
    code = (
        "import sys, lendshield.ledger.verify, lendshield.ledger.witness; assert not any(m.startswith('sqlalchemy') for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
