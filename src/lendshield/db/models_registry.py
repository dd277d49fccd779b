"""Import every domain's models so metadata is complete (for Alembic and schema checks)."""

from __future__ import annotations

import importlib

DOMAIN_MODEL_MODULES = (
    "lendshield.principals.models",
    "lendshield.subjects.models",
    "lendshield.ledger.models",
    "lendshield.loans.models",
    "lendshield.policy.models",
    "lendshield.consent.models",
    "lendshield.collection.models",
    "lendshield.dlp.models",
    "lendshield.watch.models",
    "lendshield.ops.models",
    "lendshield.accounts.models",
    "lendshield.devices.models",
    "lendshield.rights.models",
    "lendshield.transfers.models",
)


def import_all_models() -> None:
    for name in DOMAIN_MODEL_MODULES:
        importlib.import_module(name)
