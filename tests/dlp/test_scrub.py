"""The service scrubs itself: a resident ID in an exception message never reaches a log line or
a response body (issue 8, item 4; PIPL Art. 51: technical measures against leaks)."""

from __future__ import annotations

import io
import logging
import random
import sys
from collections.abc import Iterator

import pytest
import structlog
from fastapi.testclient import TestClient

from lendshield.dlp import synthetic as syn
from lendshield.dlp.scrub import scrub_text
from lendshield.errors import InvalidInput
from lendshield.logging_setup import configure_logging
from lendshield.runtime import Runtime
from lendshield.web.app import create_app

RNG = random.Random(51)
RID = syn.resident_id(RNG)
MOBILE = syn.mobile(RNG)


@pytest.mark.parametrize(
    "text",
    [
        f"lookup failed for {RID}",
        f"lookup failed for {syn.corrupt_check(RID)}",  # a mistyped ID is still someone's ID
        "证件 " + RID.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"}),  # full-width
        f"call +86 {MOBILE[:3]} {MOBILE[3:7]} {MOBILE[7:]} failed",
        f"card {syn.bank_card(RNG, 16)} declined",
        "mail zhang.san@example.com bounced",
        "借款人：张伟 逾期",
        "token lsk_0a1b2c3d.SECRETsecret",
    ],
)
def test_personal_data_is_replaced(text: str) -> None:
    scrubbed = scrub_text(text)
    assert "[REDACTED]" in scrubbed
    for piece in (RID, MOBILE[3:7], "zhang.san", "张伟", "SECRETsecret"):
        assert piece not in scrubbed


def test_ordinary_messages_are_left_alone() -> None:
    for text in ("subject 3f2a9c1e-0b7d-4e59-8a61-2f0c3b9d7e11 not found", "retry 3 of 5 after 250 ms", "code=invalid-input", ""):
        assert scrub_text(text) == text


def test_the_machines_own_addresses_are_left_alone_and_a_persons_are_not() -> None:
    """Loopback and unspecified addresses are nobody's data; hiding them hid where the server
    listens. A client's address is personal information (PIPL Art. 4) and stays hidden."""
    for text in ("Uvicorn running on http://127.0.0.1:8000", "listening on 0.0.0.0:8000", "bound to [::1]:8000"):
        assert scrub_text(text) == text
    for text in ("login from 203.0.113.7 refused", "client 2001:db8::7 refused", "peer 192.168.1.20 refused"):
        assert "[REDACTED]" in scrub_text(text), text


@pytest.fixture
def log_stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Standard error as a buffer while the test runs; logging set up again on the real one after."""
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    configure_logging("json", "INFO")
    yield buffer
    monkeypatch.undo()
    configure_logging()


def test_structlog_lines_and_tracebacks_are_scrubbed(log_stream: io.StringIO) -> None:
    log = structlog.get_logger("test.dlp")
    log.error("lookup_failed", detail=f"no subject with resident ID {RID}", values=[MOBILE])
    try:
        raise ValueError(f"bad resident ID {RID}")
    except ValueError:
        log.exception("crashed")
    err = log_stream.getvalue()
    assert "lookup_failed" in err
    assert "crashed" in err
    assert "ValueError" in err  # the traceback is there ...
    assert RID not in err  # ... without the ID
    assert MOBILE not in err


def test_standard_library_records_are_scrubbed(log_stream: io.StringIO) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.dlp.stdlib")
    logger.addHandler(handler)
    try:
        logger.error("import failed at row with %s", RID)
        try:
            raise RuntimeError(f"duplicate key {RID}")
        except RuntimeError:
            logger.exception("worker crashed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "import failed at row with [REDACTED]" in out
    assert "RuntimeError: duplicate key [REDACTED]" in out
    assert RID not in out


def test_error_responses_and_their_log_lines_never_carry_the_id(
    rt: Runtime, log_stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stderr", log_stream)  # pytest's capture took standard error back after set-up
    app = create_app(runtime=rt)  # configures logging on standard error, the buffer

    def careless() -> None:
        raise InvalidInput(f"resident ID {RID} is already registered")

    def crashing() -> None:
        raise KeyError(f"no row for {RID}")

    app.add_api_route("/test/careless", careless)
    app.add_api_route("/test/crash", crashing)
    with TestClient(app, raise_server_exceptions=False) as client:
        first = client.get("/test/careless")
        second = client.get("/test/crash")
    assert first.status_code == 422
    assert first.json()["detail"] == "resident ID [REDACTED] is already registered"
    assert second.status_code == 500
    assert RID not in first.text
    assert RID not in second.text
    logged = log_stream.getvalue()
    assert "unhandled_error" in logged  # the crash was logged ...
    assert RID not in logged  # ... without the ID
