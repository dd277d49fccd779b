"""Errors of the watch domain (mapped to problem+json once, in ``web/problem.py``)."""

from __future__ import annotations

from lendshield.errors import ConfigurationError, Conflict, NotFound


class WatchConfigInvalid(ConfigurationError):
    code = "watch-config-invalid"


class AlertNotFound(NotFound):
    code = "alert-not-found"

    def __init__(self) -> None:
        super().__init__("no such alert")


class AlertTransitionRefused(Conflict):
    code = "alert-transition"


class DeliveryNotFound(NotFound):
    code = "alert-delivery-not-found"

    def __init__(self) -> None:
        super().__init__("no such alert delivery")


class DeliveryRetryRefused(Conflict):
    code = "alert-delivery-retry"
