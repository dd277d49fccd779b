"""Structured logs (structlog). JSON in production. Records never carry personal data:
callers log ids and codes only, and a scrubber masks anything that looks like personal data.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog


def scrub_text(text: str) -> str:
    """Personal data in ``text`` replaced by ``[REDACTED]`` (the DLP package's scrubber)."""
    from lendshield.dlp.scrub import scrub_text as dlp_scrub

    return dlp_scrub(text)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(v) for v in value]
    return value


def scrubber(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        event[key] = _scrub_value(event[key])
    return event


def _install_record_scrubber() -> None:
    """Scrub standard-library log records (uvicorn, SQLAlchemy, ...) as they are made.

    The message and any traceback text are rendered and scrubbed at once, so a handler
    configured anywhere later only ever sees the scrubbed form.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "lendshield_scrubber", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.msg = scrub_text(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = scrub_text(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info)
        return record

    factory.lendshield_scrubber = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(fmt: str = "console", level: str = "INFO") -> None:
    _install_record_scrubber()
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            scrubber,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
