"""Request ids and Prometheus metrics; ids and personal data never reach labels."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_request_id_is_returned_and_safe_ones_are_kept(client: TestClient) -> None:
    generated = client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    kept = client.get("/healthz", headers={"X-Request-ID": "trace-12345678"})
    assert kept.headers["x-request-id"] == "trace-12345678"
    hostile = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert hostile.headers["x-request-id"] != "<script>alert(1)</script>"


def test_metrics_use_route_templates_not_paths(client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    actor = make_actor("customer_service")
    client.get("/v1/subjects/00000000-0000-4000-8000-000000000000", headers=actor.headers | {"X-Purpose": "customer_support"})
    body = client.get("/metrics").text
    assert 'route="/v1/subjects/{subject_id}"' in body
    assert "00000000-0000-4000-8000-000000000000" not in body
    assert "lendshield_http_request_seconds_bucket" in body
