"""Alert delivery to the protection officer: a durable outbox, a signed webhook and e-mail.

``alerts.record`` adds one outbox row per configured channel in the transaction that raises (or
reopens) the alert, so an alert that exists is an alert that will be sent. ``deliver_due`` runs
in the job runner: it takes the due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), pushes
their next attempt past the send timeout so no other process sends them meanwhile, commits,
sends, then records the outcome. A process killed after sending and before recording sends
again later: delivery is at least once, and receivers deduplicate on the delivery id.

What is sent carries no personal data: the alert's id, rule, severity, status, times, counts
and a link to the console. Never the actor, the title, the facts (canary ids, file names) or
any subject reference: whoever needs those signs in to the console, where reading is logged.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from lendshield import ledger
from lendshield.errors import Forbidden
from lendshield.ledger.entry import rfc3339
from lendshield.principals import SYSTEM, Principal
from lendshield.runtime import Runtime
from lendshield.settings import Settings
from lendshield.watch import webhook
from lendshield.watch.errors import DeliveryNotFound, DeliveryRetryRefused
from lendshield.watch.models import AlertDeliveryRow, AlertRow

log = structlog.get_logger("lendshield.watch.delivery")

Channel = Literal["webhook", "email"]
Event = Literal["raised", "reopened"]
READ_ROLES = frozenset({"protection_officer", "auditor"})
WORK_ROLES = frozenset({"protection_officer"})
FIRST_RETRY_S = 30
MAX_BACKOFF_S = 3600
USER_AGENT = "LendShield-Alerts/1"


class DeliveryFailed(Exception):
    """One attempt failed; ``kind`` is what is recorded (a status code or an exception name)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind[:200]


def channels(settings: Settings) -> list[Channel]:
    """The channels switched on: a webhook URL, an SMTP host with recipients. None by default."""
    out: list[Channel] = []
    if settings.alert_webhook_url:
        out.append("webhook")
    if settings.alert_smtp_host and settings.alert_email_to:
        out.append("email")
    return out


def enqueue(session: Session, rt: Runtime, alert: AlertRow, event: Event) -> list[AlertDeliveryRow]:
    """Add the alert's outbox rows, one per channel, in the caller's transaction."""
    now = rt.clock.now()
    rows = [
        AlertDeliveryRow(
            alert_id=alert.id,
            event=event,
            channel=channel,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            last_attempt_at=None,
            delivered_at=None,
            last_error=None,
            created_at=now,
        )
        for channel in channels(rt.settings)
    ]
    session.add_all(rows)
    return rows


def backoff(attempts: int) -> timedelta:
    """After the n-th failed attempt: 30 s, 1 min, 2 min ... at most an hour."""
    return timedelta(seconds=min(FIRST_RETRY_S * 2 ** max(attempts - 1, 0), MAX_BACKOFF_S))


@dataclass(frozen=True, slots=True)
class Notice:
    """What one attempt sends: the alert as the outbox row found it, without personal data."""

    delivery_id: int
    channel: str
    event: str
    attempt: int
    alert_id: int
    rule: str
    severity: str
    status: str
    first_seen: datetime
    last_seen: datetime
    measure: int
    threshold: int
    trigger_count: int

    def console_link(self, settings: Settings) -> str:
        return f"{settings.alert_console_url.rstrip('/')}/console/alerts/{self.alert_id}"

    def document(self, settings: Settings, sent_at: datetime) -> dict[str, Any]:
        return {
            "type": "lendshield.watch.alert",
            "event": self.event,
            "delivery_id": self.delivery_id,
            "attempt": self.attempt,
            "sent_at": rfc3339(sent_at),
            "alert": {
                "id": self.alert_id,
                "rule": self.rule,
                "severity": self.severity,
                "status": self.status,
                "first_seen": rfc3339(self.first_seen),
                "last_seen": rfc3339(self.last_seen),
                "measure": self.measure,
                "threshold": self.threshold,
                "trigger_count": self.trigger_count,
            },
            "console_url": self.console_link(settings),
        }


def _notice(row: AlertDeliveryRow, alert: AlertRow) -> Notice:
    return Notice(
        delivery_id=row.id,
        channel=row.channel,
        event=row.event,
        attempt=row.attempts,
        alert_id=alert.id,
        rule=alert.rule_id,
        severity=alert.severity,
        status=alert.status,
        first_seen=alert.first_seen,
        last_seen=alert.last_seen,
        measure=alert.measure,
        threshold=alert.threshold,
        trigger_count=alert.trigger_count,
    )


# --- channels -----------------------------------------------------------------------------------


def _webhook_secret(settings: Settings) -> bytes:
    secret = settings.alert_webhook_secret.get_secret_value().encode() if settings.alert_webhook_secret else b""
    if len(secret) < 16:
        raise DeliveryFailed("configuration: LENDSHIELD_ALERT_WEBHOOK_SECRET must have at least 16 bytes")
    return secret


def _webhook_url(settings: Settings) -> str:
    url = settings.alert_webhook_url
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
    # The body is signed, not encrypted: outside this machine it travels only over TLS.
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise DeliveryFailed("configuration: LENDSHIELD_ALERT_WEBHOOK_URL must be https (plain http only to loopback)")
    return url


def send_webhook(settings: Settings, notice: Notice, now: datetime, client: httpx.Client | None = None) -> None:
    """POST the signed notice; anything but a 2xx answer is a failed attempt (redirects too)."""
    secret = _webhook_secret(settings)
    url = _webhook_url(settings)
    body = json.dumps(notice.document(settings, now), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        webhook.TIMESTAMP_HEADER: str(timestamp),
        webhook.SIGNATURE_HEADER: webhook.sign(secret, timestamp, body),
        webhook.DELIVERY_HEADER: str(notice.delivery_id),
    }
    own = client is None
    http = client or httpx.Client(timeout=settings.alert_webhook_timeout_s, follow_redirects=False)
    try:
        response = http.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(type(exc).__name__) from exc  # the message may quote the URL
    finally:
        if own:
            http.close()
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"HTTP {response.status_code}")


def email_message(settings: Settings, notice: Notice, now: datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.alert_email_from
    msg["To"] = ", ".join(settings.alert_email_to)
    msg["Subject"] = f"[LendShield] {notice.severity} alert {notice.alert_id} {notice.event}: {notice.rule}"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid("alert-delivery-" + str(notice.delivery_id))
    msg["X-LendShield-Delivery"] = str(notice.delivery_id)
    doc = notice.document(settings, now)["alert"]
    lines = [
        f"An insider-watch alert was {notice.event}.",
        "",
        f"alert:         {notice.alert_id}",
        f"rule:          {doc['rule']}",
        f"severity:      {doc['severity']}",
        f"status:        {doc['status']}",
        f"first seen:    {doc['first_seen']}",
        f"last seen:     {doc['last_seen']}",
        f"measure:       {doc['measure']} (threshold {doc['threshold']})",
        f"ledger entries: {doc['trigger_count']}",
        "",
        f"Open it in the console: {notice.console_link(settings)}",
        "",
        "This message carries no personal data; the evidence is in the console, where viewing it is logged.",
    ]
    msg.set_content("\n".join(lines) + "\n")
    return msg


def send_email(settings: Settings, notice: Notice, now: datetime) -> None:
    """Send through the configured SMTP server, STARTTLS first when configured (and before login)."""
    if not settings.alert_email_from:
        raise DeliveryFailed("configuration: LENDSHIELD_ALERT_EMAIL_FROM is not set")
    msg = email_message(settings, notice, now)
    try:
        with smtplib.SMTP(settings.alert_smtp_host, settings.alert_smtp_port, timeout=settings.alert_smtp_timeout_s) as smtp:
            smtp.ehlo()
            if settings.alert_smtp_starttls:
                cafile = str(settings.alert_smtp_ca_file) if settings.alert_smtp_ca_file else None
                smtp.starttls(context=ssl.create_default_context(cafile=cafile))
                smtp.ehlo()
            if settings.alert_smtp_username:
                password = settings.alert_smtp_password.get_secret_value() if settings.alert_smtp_password else ""
                smtp.login(settings.alert_smtp_username, password)
            smtp.send_message(msg)
    except smtplib.SMTPResponseException as exc:
        raise DeliveryFailed(f"SMTP {exc.smtp_code}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(type(exc).__name__) from exc


Sender = Callable[[Settings, Notice, datetime], None]


def default_senders(client: httpx.Client | None = None) -> dict[str, Sender]:
    return {"webhook": lambda s, n, now: send_webhook(s, n, now, client), "email": send_email}


# --- the job ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    delivered: int
    retrying: int
    failed: int


def _hold(settings: Settings, claimed: int) -> timedelta:
    # Longer than the claimed attempts can take one after another, so a row being sent is not
    # taken by another process meanwhile (if it is, the receiver sees the delivery id twice).
    return timedelta(seconds=claimed * max(settings.alert_webhook_timeout_s, settings.alert_smtp_timeout_s) + 30)


def _claim(rt: Runtime, now: datetime, limit: int) -> list[Notice]:
    with rt.sessions() as session:
        query = (
            select(AlertDeliveryRow)
            .where(AlertDeliveryRow.status == "pending", AlertDeliveryRow.next_attempt_at <= now)
            .order_by(AlertDeliveryRow.next_attempt_at, AlertDeliveryRow.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=AlertDeliveryRow)
        rows = list(session.scalars(query))
        notices = []
        hold = _hold(rt.settings, len(rows))
        for row in rows:
            alert = session.get(AlertRow, row.alert_id)
            assert alert is not None  # a foreign key
            row.attempts += 1
            row.last_attempt_at = now
            row.next_attempt_at = now + hold
            notices.append(_notice(row, alert))
        session.commit()
    return notices


def _ledger(session: Session, rt: Runtime, row: AlertDeliveryRow, action: str, who: Principal = SYSTEM) -> None:
    ledger.append(
        session,
        ledger.Entry(
            time=rt.clock.now(),
            actor=who.id,
            action=action,
            object=f"alert:{row.alert_id}",
            details={"delivery": row.id, "channel": row.channel, "event": row.event, "attempts": row.attempts},
        ),
    )


def _settle(rt: Runtime, notice: Notice, error: str | None) -> str:
    now = rt.clock.now()
    with rt.sessions() as session:
        row = session.get(AlertDeliveryRow, notice.delivery_id)
        if row is None or row.status != "pending" or row.attempts != notice.attempt:
            return "superseded"  # another process took the row over after our hold ran out
        if error is None:
            row.status, row.delivered_at, row.last_error = "delivered", now, None
            _ledger(session, rt, row, "watch.alert.delivered")
            outcome = "delivered"
        elif row.attempts >= rt.settings.alert_delivery_max_attempts:
            row.status, row.last_error = "failed", error
            _ledger(session, rt, row, "watch.alert.delivery_failed")
            # At error level for the operator's alerting: the officer was not reached.
            log.error("alert_delivery_failed", delivery=row.id, alert=row.alert_id, channel=row.channel, error=error)
            outcome = "failed"
        else:
            row.last_error, row.next_attempt_at = error, now + backoff(row.attempts)
            log.warning("alert_delivery_retry", delivery=row.id, alert=row.alert_id, channel=row.channel, error=error)
            outcome = "retrying"
        session.commit()
    return outcome


def deliver_due(rt: Runtime, *, limit: int = 20, senders: dict[str, Sender] | None = None) -> DeliveryResult:
    """Send up to ``limit`` outbox rows that are due; each outcome is committed as soon as it is known.

    The rest wait for the next tick (every ``alert_delivery_interval_s``).
    """
    chosen = senders or default_senders()
    counts = {"delivered": 0, "retrying": 0, "failed": 0, "superseded": 0}
    for notice in _claim(rt, rt.clock.now(), limit):
        try:
            chosen[notice.channel](rt.settings, notice, rt.clock.now())
            error = None
        except DeliveryFailed as exc:
            error = exc.kind
        except Exception as exc:  # a broken sender must not stop the others; the row is retried
            error = type(exc).__name__
        counts[_settle(rt, notice, error)] += 1
    return DeliveryResult(delivered=counts["delivered"], retrying=counts["retrying"], failed=counts["failed"])


# --- the officer's view -------------------------------------------------------------------------


def _need(who: Principal, roles: frozenset[str], what: str) -> None:
    if not who.roles & roles:
        raise Forbidden(f"only the protection officer{' or an auditor' if 'auditor' in roles else ''} may {what}")


def list_deliveries(
    session: Session, who: Principal, *, status: str | None = None, alert_id: int | None = None, limit: int = 100
) -> list[AlertDeliveryRow]:
    """Newest first: what was sent, what waits for a retry, what failed."""
    _need(who, READ_ROLES, "read alert deliveries")
    query = select(AlertDeliveryRow).order_by(AlertDeliveryRow.id.desc()).limit(limit)
    if status is not None:
        query = query.where(AlertDeliveryRow.status == status)
    if alert_id is not None:
        query = query.where(AlertDeliveryRow.alert_id == alert_id)
    return list(session.scalars(query))


def retry(session: Session, rt: Runtime, who: Principal, delivery_id: int) -> AlertDeliveryRow:
    """Put a failed delivery back in the outbox (after the receiver or the settings are fixed)."""
    _need(who, WORK_ROLES, "retry alert deliveries")
    row = session.get(AlertDeliveryRow, delivery_id)
    if row is None:
        raise DeliveryNotFound()
    if row.status != "failed":
        raise DeliveryRetryRefused(f"a delivery that is {row.status} cannot be retried")
    row.status, row.attempts, row.next_attempt_at = "pending", 0, rt.clock.now()
    _ledger(session, rt, row, "watch.alert.delivery_retry", who)
    session.flush()
    return row
