"""Alert delivery to the protection officer: a signed webhook received by a real HTTP server, e-mail
received by a real SMTP server, a durable outbox that retries until the receiver answers, and
bodies without personal data (PIPL Art. 52: the officer is told; Art. 51: nothing leaks on the way)."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from lendshield import ledger
from lendshield.clock import FrozenClock
from lendshield.jobs.runner import default_runner
from lendshield.principals import Principal
from lendshield.runtime import Runtime
from lendshield.settings import Settings
from lendshield.watch import canaries, delivery, webhook
from lendshield.watch.models import AlertDeliveryRow
from tests.watch.conftest import alerts, run, write

SECRET = "s3cret-for-the-webhook-tests-0123456789"
OTHER_ROLES = ["collector", "collection_supervisor", "customer_service", "admin", "risk_officer", "device_operator", "loan_system"]
PO = Principal(id="po-test", name="po", kind="staff", roles=frozenset({"protection_officer"}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Receiver:
    """A webhook receiver as the docs tell one to be written: verify, refuse stale and replayed requests."""

    clock: FrozenClock
    port: int
    answers: list[int] = field(default_factory=list)
    """Status codes to answer valid requests with, in order; 200 once they run out."""
    accepted: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    guard: webhook.ReplayGuard = field(default_factory=webhook.ReplayGuard)
    server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = dict(self.headers.items())
                receiver.requests.append((headers, body))
                why = webhook.verify(
                    SECRET.encode(),
                    timestamp=self.headers.get(webhook.TIMESTAMP_HEADER, ""),
                    body=body,
                    signature=self.headers.get(webhook.SIGNATURE_HEADER, ""),
                    now=receiver.clock.now().timestamp(),
                )
                if why is not None:
                    receiver.refused.append(why)
                    self._answer(401)
                    return
                status = receiver.answers.pop(0) if receiver.answers else 200
                if status == 200:
                    # Only an accepted request is remembered: a retry after a 500 is not a replay.
                    if not receiver.guard.first_time(self.headers[webhook.SIGNATURE_HEADER], receiver.clock.now().timestamp()):
                        receiver.refused.append("replay")
                        self._answer(409)
                        return
                    receiver.accepted.append({"headers": headers, "body": json.loads(body)})
                self._answer(status)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/lendshield"


@pytest.fixture
def receiver(clock: FrozenClock) -> Iterator[Receiver]:
    r = Receiver(clock=clock, port=_free_port())
    r.start()
    yield r
    r.stop()


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def settings(settings: Settings, receiver: Receiver, mailbox: tuple[Mailbox, int]) -> Settings:
    return settings.model_copy(
        update={
            "alert_console_url": "https://lendshield.example",
            "alert_webhook_url": receiver.url,
            "alert_webhook_secret": SecretStr(SECRET),
            "alert_smtp_host": "127.0.0.1",
            "alert_smtp_port": mailbox[1],
            "alert_smtp_starttls": False,
            "alert_email_from": "lendshield@lender.example",
            "alert_email_to": ["dpo@lender.example"],
            "alert_delivery_max_attempts": 3,
        }
    )


def _canary_alert(rt: Runtime, make_actor: Callable[..., Any]) -> tuple[int, str, str]:
    """A canary read by a customer-service agent: a high alert whose facts hold the canary's id."""
    with rt.sessions() as session:
        (canary,) = canaries.create_canaries(session, rt, PO, 1)
        session.commit()
    agent = make_actor("customer_service").principal
    write(rt, agent.id, [canary.subject_id])
    run(rt)
    (alert,) = alerts(rt, "canary-touch")
    assert canary.subject_id in json.dumps(alert.facts)  # the alert itself knows; the delivery must not tell
    return alert.id, canary.subject_id, agent.id


def _deliveries(rt: Runtime) -> list[AlertDeliveryRow]:
    with rt.sessions() as session:
        return list(session.scalars(select(AlertDeliveryRow).order_by(AlertDeliveryRow.id)))


def _actions(rt: Runtime) -> list[str]:
    from lendshield.watch import ledger_read

    with rt.sessions() as session:
        return [r.action for r in ledger_read.after(session, -1, 10_000)]


def test_webhook_is_signed_retried_after_a_500_and_carries_no_personal_data(  # type: ignore[no-untyped-def]
    rt: Runtime, client: TestClient, make_actor, clock: FrozenClock, receiver: Receiver
) -> None:
    alert_id, canary_id, agent_id = _canary_alert(rt, make_actor)
    assert {(d.channel, d.status) for d in _deliveries(rt)} == {("webhook", "pending"), ("email", "pending")}

    receiver.answers = [500]
    first = delivery.deliver_due(rt)
    assert (first.delivered, first.retrying) == (1, 1)  # the e-mail went, the webhook got a 500
    (hook,) = [d for d in _deliveries(rt) if d.channel == "webhook"]
    assert (hook.status, hook.attempts, hook.last_error) == ("pending", 1, "HTTP 500")
    assert delivery.deliver_due(rt) == delivery.DeliveryResult(0, 0, 0)  # not due again yet

    clock.advance(timedelta(seconds=31))
    assert delivery.deliver_due(rt).delivered == 1
    (hook,) = [d for d in _deliveries(rt) if d.channel == "webhook"]
    assert (hook.status, hook.attempts, hook.last_error) == ("delivered", 2, None)

    (got,) = receiver.accepted
    assert receiver.refused == []
    assert got["headers"][webhook.DELIVERY_HEADER] == str(hook.id)
    body = got["body"]
    assert body["alert"] == {
        "id": alert_id,
        "rule": "canary-touch",
        "severity": "high",
        "status": "open",
        "first_seen": body["alert"]["first_seen"],
        "last_seen": body["alert"]["last_seen"],
        "measure": 1,
        "threshold": 1,
        "trigger_count": 1,
    }
    assert body["console_url"] == f"https://lendshield.example/console/alerts/{alert_id}"
    assert (body["event"], body["delivery_id"], body["attempt"]) == ("raised", hook.id, 2)
    raw = json.dumps(got)
    for secret_or_personal in (canary_id, ledger.subject_ref(rt.keys, canary_id), agent_id, SECRET):
        assert secret_or_personal not in raw

    # The state is visible to the officer with the alert.
    po = make_actor("protection_officer").headers
    detail = client.get(f"/v1/watch/alerts/{alert_id}", headers=po).json()
    by_channel = {d["channel"]: d for d in detail["deliveries"]}
    assert by_channel["webhook"]["status"] == "delivered"
    assert by_channel["webhook"]["attempts"] == 2
    assert by_channel["email"]["status"] == "delivered"
    assert _actions(rt).count("watch.alert.delivered") == 2


def test_a_receiver_that_is_down_gets_the_alert_once_it_is_back(  # type: ignore[no-untyped-def]
    rt: Runtime, make_actor, clock: FrozenClock, receiver: Receiver
) -> None:
    receiver.stop()
    alert_id, _, _ = _canary_alert(rt, make_actor)
    result = delivery.deliver_due(rt)
    assert result.retrying == 1
    (hook,) = [d for d in _deliveries(rt) if d.channel == "webhook"]
    assert hook.last_error == "ConnectError"
    receiver.start()  # the same port, as the receiver's operator restarts it
    clock.advance(timedelta(seconds=31))
    assert delivery.deliver_due(rt).delivered == 1
    assert [a["body"]["alert"]["id"] for a in receiver.accepted] == [alert_id]


def test_the_receiver_refuses_replayed_stale_and_altered_requests(  # type: ignore[no-untyped-def]
    rt: Runtime, make_actor, clock: FrozenClock, receiver: Receiver
) -> None:
    _canary_alert(rt, make_actor)
    delivery.deliver_due(rt)
    (headers, body) = receiver.requests[-1]
    assert receiver.accepted
    assert not receiver.refused
    keep = {k: v for k, v in headers.items() if k.lower().startswith("x-lendshield") or k.lower() == "content-type"}

    replay = httpx.post(receiver.url, content=body, headers=keep)
    assert replay.status_code == 409
    altered = httpx.post(receiver.url, content=body.replace(b'"high"', b'"low"'), headers=keep)
    assert altered.status_code == 401
    clock.advance(timedelta(seconds=webhook.DEFAULT_TOLERANCE_S + 1))
    stale = httpx.post(receiver.url, content=body, headers=keep)
    assert stale.status_code == 401
    wrong_key = webhook.sign(b"another-secret-0123456789", int(clock.now().timestamp()), body)
    forged = httpx.post(
        receiver.url,
        content=body,
        headers=keep | {webhook.SIGNATURE_HEADER: wrong_key, webhook.TIMESTAMP_HEADER: str(int(clock.now().timestamp()))},
    )
    assert forged.status_code == 401
    assert receiver.refused == ["replay", "signature does not match", "timestamp outside the tolerance", "signature does not match"]
    assert len(receiver.accepted) == 1


def test_email_reaches_the_officer_without_personal_data(  # type: ignore[no-untyped-def]
    rt: Runtime, make_actor, mailbox: tuple[Mailbox, int]
) -> None:
    alert_id, canary_id, agent_id = _canary_alert(rt, make_actor)
    delivery.deliver_due(rt)
    box, _ = mailbox
    (msg,) = box.messages
    assert msg["To"] == "dpo@lender.example"
    assert msg["From"] == "lendshield@lender.example"
    assert msg["Subject"] == f"[LendShield] high alert {alert_id} raised: canary-touch"
    text = msg.get_payload(decode=True)
    assert isinstance(text, bytes)
    content = text.decode()
    assert f"https://lendshield.example/console/alerts/{alert_id}" in content
    for personal in (canary_id, ledger.subject_ref(rt.keys, canary_id), agent_id):
        assert personal not in content
        assert personal not in str(msg)


def test_after_the_last_attempt_the_delivery_is_failed_visible_and_can_be_retried(  # type: ignore[no-untyped-def]
    rt: Runtime, client: TestClient, make_actor, clock: FrozenClock, receiver: Receiver
) -> None:
    alert_id, _, _ = _canary_alert(rt, make_actor)
    receiver.answers = [503, 503, 503]
    for _ in range(3):
        delivery.deliver_due(rt)
        clock.advance(timedelta(hours=1))
    (hook,) = [d for d in _deliveries(rt) if d.channel == "webhook"]
    assert (hook.status, hook.attempts, hook.last_error) == ("failed", 3, "HTTP 503")
    assert "watch.alert.delivery_failed" in _actions(rt)

    for role in ("protection_officer", "auditor"):
        page = client.get("/v1/watch/deliveries?status=failed", headers=make_actor(role).headers)
        assert page.status_code == 200
        assert [(d["id"], d["alert_id"], d["next_attempt_at"]) for d in page.json()["items"]] == [(hook.id, alert_id, None)]
    for role in OTHER_ROLES:
        assert client.get("/v1/watch/deliveries", headers=make_actor(role).headers).status_code == 403, role
    for role in [*OTHER_ROLES, "auditor"]:
        refused = client.post(f"/v1/watch/deliveries/{hook.id}/retry", headers=make_actor(role).headers)
        assert refused.status_code == 403, role
        assert refused.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/watch/deliveries").status_code == 401
    assert client.post(f"/v1/watch/deliveries/{hook.id}/retry").status_code == 401

    po = make_actor("protection_officer").headers
    again = client.post(f"/v1/watch/deliveries/{hook.id}/retry", headers=po)
    assert again.status_code == 200, again.text
    assert (again.json()["status"], again.json()["attempts"]) == ("pending", 0)
    assert client.post(f"/v1/watch/deliveries/{hook.id}/retry", headers=po).status_code == 409  # pending, not failed
    assert client.post("/v1/watch/deliveries/999999/retry", headers=po).status_code == 404
    assert client.get("/v1/watch/deliveries?status=lost", headers=po).status_code == 422
    assert delivery.deliver_due(rt).delivered == 1
    assert [a["body"]["alert"]["id"] for a in receiver.accepted] == [alert_id]
    assert "watch.alert.delivery_retry" in _actions(rt)


def test_the_web_process_job_runner_delivers(rt: Runtime, make_actor, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    agent = make_actor("customer_service").principal
    write(rt, agent.id, [f"d-{i}" for i in range(5)], decision="deny")
    runner = default_runner(rt)
    runner.run_pending()  # the watch raises the alert, then the outbox sends it
    runner.stop(30)
    assert [a["body"]["alert"]["rule"] for a in receiver.accepted] == ["repeated-denials"]


def test_a_webhook_secret_that_is_too_short_is_a_recorded_failure_not_a_leak(  # type: ignore[no-untyped-def]
    settings: Settings, clock: FrozenClock, make_actor, rt: Runtime, receiver: Receiver
) -> None:
    from lendshield.runtime import build_runtime

    weak = build_runtime(settings.model_copy(update={"alert_webhook_secret": SecretStr("short")}), clock=clock)
    try:
        _canary_alert(weak, make_actor)
        delivery.deliver_due(weak)
        (hook,) = [d for d in _deliveries(weak) if d.channel == "webhook"]
        assert hook.status == "pending"
        assert hook.last_error == "configuration: LENDSHIELD_ALERT_WEBHOOK_SECRET must have at least 16 bytes"
        assert receiver.requests == []  # nothing was sent unsigned or weakly signed
    finally:
        weak.engine.dispose()


def test_delivery_is_off_by_default(tmp_path, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    assert delivery.channels(Settings(environment="test", data_dir=tmp_path)) == []
    assert delivery.channels(Settings(environment="test", data_dir=tmp_path, alert_smtp_host="mail.example")) == []  # no recipient


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


def test_email_over_starttls_with_login(  # type: ignore[no-untyped-def]
    settings: Settings, clock: FrozenClock, make_actor, rt: Runtime, tmp_path: Path
) -> None:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    from lendshield.runtime import build_runtime

    cert, key = _self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bool]] = []

    def authenticate(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
        assert isinstance(data, LoginPassword)
        ok = data.login == b"alerts" and data.password == b"mail-password"
        logins.append((data.login, ok))
        return AuthResult(success=ok)

    box = Mailbox()
    port = _free_port()
    controller = Controller(
        box, hostname="127.0.0.1", port=port, tls_context=tls, require_starttls=True, authenticator=authenticate, auth_required=True
    )
    controller.start()
    secure = build_runtime(
        settings.model_copy(
            update={
                "alert_webhook_url": "",
                "alert_smtp_port": port,
                "alert_smtp_starttls": True,
                "alert_smtp_ca_file": cert,
                "alert_smtp_username": "alerts",
                "alert_smtp_password": SecretStr("mail-password"),
            }
        ),
        clock=clock,
    )
    try:
        alert_id, _, _ = _canary_alert(secure, make_actor)
        assert delivery.deliver_due(secure).delivered == 1
        (msg,) = box.messages
        assert msg["Subject"] == f"[LendShield] high alert {alert_id} raised: canary-touch"
        assert logins == [(b"alerts", True)]  # the password went over TLS (aiosmtpd refuses AUTH before STARTTLS)
    finally:
        controller.stop()
        secure.engine.dispose()
