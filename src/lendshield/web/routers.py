"""Every domain's router, mounted in one place."""

from __future__ import annotations

import importlib

from fastapi import APIRouter

ROUTER_MODULES = (
    "lendshield.web.health",
    "lendshield.principals.api",
    "lendshield.subjects.api",
    "lendshield.ledger.api",
    "lendshield.policy.api",
    "lendshield.consent.api",
    "lendshield.loans.api",
    "lendshield.collection.api",
    "lendshield.dlp.api",
    "lendshield.watch.api",
    "lendshield.ops.api",
    "lendshield.devices.api",
    "lendshield.rights.api",
    "lendshield.transfers.api",
    "lendshield.web.pages",
    "lendshield.web.console_collection",
    "lendshield.web.console_dashboard",
    "lendshield.web.console_subjects",
    "lendshield.web.console_rights",
    "lendshield.web.console_alerts",
    "lendshield.web.console_incidents",
    "lendshield.web.console_ledger",
    "lendshield.web.console_reports",
    "lendshield.web.portal",
    "lendshield.ops.reports_api",
)


def all_routers() -> list[APIRouter]:
    return [importlib.import_module(name).router for name in ROUTER_MODULES]
