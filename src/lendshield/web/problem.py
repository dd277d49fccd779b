"""The one place errors become HTTP: application/problem+json (RFC 9457)."""

from __future__ import annotations

import re
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lendshield.errors import LendShieldError
from lendshield.logging_setup import scrub_text
from lendshield.web.pages import render

PROBLEM = "application/problem+json"
log = structlog.get_logger("lendshield.web")


def problem(status: int, title: str, detail: str, code: str, **extra: Any) -> JSONResponse:
    # Error texts are written without personal data; the scrubber catches any that slips in.
    detail = scrub_text(detail)
    extra = {k: scrub_text(v) if isinstance(v, str) else v for k, v in extra.items()}
    body = {"type": f"https://lendshield.dev/problems/{code}", "title": title, "status": status, "detail": detail, "code": code}
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


_SAFE_LOC = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_FASTAPI_BODY_ERROR = "There was an error parsing the body"


def _loc_part(part: object) -> str:
    # A dict key is client input too ({"fields": {"13812345678": ...}}): show only identifier-like
    # keys and indexes, never something that could be a phone number or a name.
    if isinstance(part, int) or _SAFE_LOC.match(str(part)) or str(part) == "[key]":
        return str(part)
    return "<key>"


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Never echo the input back: it may be a resident ID or a phone number.
    out = []
    for err in exc.errors():
        loc = [_loc_part(p) for p in err.get("loc", ())]
        out.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
    return out


# The pages' paths: a browser there gets an HTML error page instead of problem+json.
_PAGE_AREAS = ("/console", "/portal", "/transparency")


def _page_error(request: Request, status: int) -> Response | None:
    """The HTML error page for a browser on a page path (its Accept names text/html), else None.

    It says what kind of error it was, never the error's text: that may name the input.
    """
    path = request.url.path
    area = next((a for a in _PAGE_AREAS if path == a or path.startswith(a + "/")), None)
    if area is None or "text/html" not in request.headers.get("accept", ""):
        return None
    return render(request, "error.html", status=status, code=status, back="/" if area == "/transparency" else area)


def install(app: FastAPI) -> None:
    @app.exception_handler(LendShieldError)
    async def _domain(request: Request, exc: LendShieldError) -> Response:
        if exc.status >= 500:
            log.error("domain_error", code=exc.code)
        return _page_error(request, exc.status) or problem(exc.status, exc.title, exc.detail, exc.code, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = _validation_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return _page_error(request, 400) or problem(400, "Malformed JSON", "the request body is not valid JSON", "malformed-json")
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        detail = f"{'.'.join(first['loc'])}: {first['msg']}"
        return _page_error(request, 422) or problem(422, "Invalid input", detail, "invalid-input", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        page = _page_error(request, exc.status_code)
        if page is not None:
            return page
        if exc.status_code == 413:
            return problem(413, "Payload too large", str(exc.detail), "payload-too-large")
        if exc.status_code == 400 and exc.detail == _FASTAPI_BODY_ERROR:
            # FastAPI's answer to a body that is not even text (bad UTF-8): still malformed JSON.
            return problem(400, "Malformed JSON", "the request body is not valid JSON", "malformed-json")
        titles = {404: "Not found", 405: "Method not allowed"}
        return problem(exc.status_code, titles.get(exc.status_code, "HTTP error"), str(exc.detail), f"http-{exc.status_code}")

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.error("unhandled_error", error_type=type(exc).__name__)
        return _page_error(request, 500) or problem(500, "Internal error", "an internal error occurred; it was logged", "internal")


# --- the OpenAPI document: error answers and the credential, declared once for every route -----

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `code` is a stable slug, `errors` lists invalid input locations.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

# Every status the error tree (`lendshield.errors`) and the handlers above can answer with, short of
# a crash. Each route may answer any of them: which one depends on the state, not on the route.
_ERROR_STATUSES = {
    "400": "Bad request (malformed JSON, a missing X-Purpose, a refused argument)",
    "401": "Missing, expired or unknown credentials",
    "403": "The caller may not do this (role, policy, consent); the reason is in `detail`",
    "404": "No such resource",
    "409": "Conflicts with the current state",
    "410": "Gone (crypto-shredded or withdrawn)",
    "422": "Invalid input",
    "429": "Too many requests",
}
_HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _document_operation(operation: dict[str, Any]) -> None:
    params = operation.get("parameters", [])
    # OpenAPI 3.1 section 4.8.12.1: a header parameter named Authorization "SHALL be ignored";
    # the credential is a security requirement instead.
    kept = [p for p in params if not (p.get("in") == "header" and str(p.get("name", "")).lower() == "authorization")]
    if len(kept) != len(params):
        operation["security"] = [{"bearer": []}]
        if kept:
            operation["parameters"] = kept
        else:
            operation.pop("parameters")
    responses = operation.setdefault("responses", {})
    for status, declared in responses.items():
        if status.startswith("5") and "content" not in declared:  # a route's own 5xx (503 from /readyz)
            declared["content"] = _problem_response("")["content"]
    for status, description in _ERROR_STATUSES.items():
        # FastAPI documents its own 422 as application/json; ours is problem+json.
        responses[status] = _problem_response(description)
    if "requestBody" in operation:
        responses["413"] = _problem_response("The request body is larger than the limit")


def document(app: FastAPI) -> None:
    """Declare problem+json error answers and Bearer credentials in the OpenAPI document, once."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        components.setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token `lsk_<id>.<secret>` (`lendshield principals` or `POST /v1/principals/{id}/tokens`).",
        }
        for item in schema.get("paths", {}).values():
            for method in _HTTP_METHODS:
                if method in item:
                    _document_operation(item[method])
        for unused in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
