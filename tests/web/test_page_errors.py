"""A browser on a page path gets an HTML error page; an API client still gets problem+json.

Before, a bad address under /console or /portal (a hand-edited sequence number, an unknown page)
answered a browser with problem+json text. The page says what kind of error it was, in the
person's language, never the error's own text: that may name the input.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from lendshield.runtime import Runtime
from lendshield.web.app import create_app

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
HUGE = "9" * 25


def test_unknown_page_is_an_html_404_in_the_persons_language(client: TestClient) -> None:
    zh = client.get("/console/no-such-page", headers=BROWSER)
    assert zh.status_code == 404
    assert zh.headers["content-type"].startswith("text/html")
    assert "页面不存在" in zh.text
    assert 'href="/console"' in zh.text
    assert zh.headers["x-content-type-options"] == "nosniff"
    en = client.get("/portal/no-such-page", headers=BROWSER | {"Accept-Language": "en"})
    assert en.status_code == 404
    assert "Page not found" in en.text
    assert 'href="/portal"' in en.text
    wrong_method = client.post("/transparency", headers=BROWSER | {"Accept-Language": "en"})
    assert wrong_method.status_code == 405
    assert "Not possible" in wrong_method.text
    assert 'href="/"' in wrong_method.text


def test_invalid_page_address_is_an_html_422_that_does_not_echo_the_input(client: TestClient) -> None:
    for path in (f"/console/ledger?seq={HUGE}", f"/console/ledger?actor=13812345678{'x' * 70}"):
        answer = client.get(path, headers=BROWSER | {"Accept-Language": "en"})
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("text/html")
        assert "This address is not valid" in answer.text
        assert HUGE not in answer.text
        assert "13812345678" not in answer.text


def test_api_clients_and_api_paths_keep_problem_json(client: TestClient, make_actor) -> None:  # type: ignore[no-untyped-def]
    # No text/html in Accept (curl, httpx, a loan system): problem+json on a page path too.
    for accept in ({}, {"Accept": "*/*"}, {"Accept": "application/json"}):
        answer = client.get(f"/console/ledger?seq={HUGE}", headers=accept)
        assert answer.status_code == 422
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "invalid-input"
    # The API answers problem+json even to a browser.
    actor = make_actor("loan_system")
    api = client.get("/v1/subjects/not-an-id", headers=BROWSER | actor.headers | {"X-Purpose": "loan_servicing"})
    assert api.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/no-such-route", headers=BROWSER).headers["content-type"] == "application/problem+json"
    # A path that only starts like a page area is not one.
    assert client.get("/consoles", headers=BROWSER).headers["content-type"] == "application/problem+json"


def test_a_crash_on_a_page_is_an_html_500_without_the_error(rt: Runtime) -> None:
    app = create_app(runtime=rt)

    def boom() -> None:
        raise RuntimeError("secret detail 13812345678")

    app.add_api_route("/portal/boom", boom, include_in_schema=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/portal/boom", headers=BROWSER | {"Accept-Language": "en"})
        assert page.status_code == 500
        assert page.headers["content-type"].startswith("text/html")
        assert "Something went wrong" in page.text
        assert "secret" not in page.text
        assert "13812345678" not in page.text
        api = client.get("/portal/boom")
        assert api.status_code == 500
        assert api.headers["content-type"] == "application/problem+json"
