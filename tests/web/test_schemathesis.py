"""Schemathesis against the OpenAPI document: every operation the app exposes, with valid credentials.

No answer is a 5xx, and every answer is documented: its status code, its content type, its body's
schema and its headers. The operations come from the document itself, so routers added later are
covered without editing this file. Generated values are mixed with real ones (a stored subject's
id, a purpose from the catalog) so that requests also get past the first 404 or 400 and reach
the gate, the vault and the ledger.
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lendshield.principals import service as principals
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects
from lendshield.web.app import create_app

EXAMPLES = 10  # per operation and mode; the whole document takes about 30 s on 2 shared cores

# "date-time" inputs as clients really send them: RFC 3339 with "Z" or an offset, and, as often,
# without any offset at all. Those are not RFC 3339, but pydantic parses them as naive times: the
# API must refuse them (422), never compare them with stored aware times (a 500).
_OFFSETS = [None, dt.UTC, dt.timezone(dt.timedelta(hours=8)), dt.timezone(dt.timedelta(hours=-5, minutes=-30))]
schemathesis.openapi.format(
    "date-time",
    st.builds(
        lambda when, tz: when.replace(tzinfo=tz).isoformat().replace("+00:00", "Z"),
        st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)),
        st.sampled_from(_OFFSETS),
    ),
)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance, response_headers_conformance]

BORROWER = {
    "name": "王五",
    "resident_id": "11010519491231002X",
    "mobile": "13812345678",
    "address": "广东省深圳市南山区科技园路1号",
    "bank_card": "6222020200112233446",
    "income": "12000",
    "employer": "合成数据有限公司",
    "device_imei": "490154203237518",
}


def _seed(rt: Runtime) -> tuple[str, str, str]:
    """A principal holding every staff role (so most requests get past the role check), two subjects."""
    staff_roles = sorted(set(rt.catalog.roles) - principals.RESERVED_ROLES)
    with rt.sessions() as session:
        who = principals.create_principal(
            session, None, rt.catalog, name=f"schemathesis-{uuid.uuid4().hex[:6]}", kind="staff", roles=staff_roles, now=rt.clock.now()
        )
        token = principals.issue_token(session, None, who.id, label="schemathesis", now=rt.clock.now())
        subject_id, _ = subjects.create_subject(session, rt, who, kind="borrower", fields=BORROWER)
        # The shred operation gets a subject of its own, so the others keep a live one.
        to_shred, _ = subjects.create_subject(session, rt, who, kind="borrower", fields=BORROWER)
        session.commit()
    return token, subject_id, to_shred


def _schema(rt: Runtime, subject_id: str, to_shred: str) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(runtime=rt))
    purposes = sorted(rt.policy.purposes.by_id)
    fields = sorted(rt.catalog.fields)

    path_turn, header_turn = itertools.count(), itertools.count()

    # Every other case takes a real value instead of a generated one (cheaper than a strategy
    # per operation, and negative generation stays as schemathesis made it otherwise).
    @schema.hook
    def map_path_parameters(context: Any, params: dict[str, Any]) -> dict[str, Any]:
        n = next(path_turn)
        if params and n % 2 == 0:
            if "subject_id" in params:
                shred = context.operation is not None and context.operation.path.endswith("/shred")
                params = {**params, "subject_id": to_shred if shred else subject_id}
            if "field" in params:
                params = {**params, "field": fields[n // 2 % len(fields)]}
        return params

    @schema.hook
    def map_headers(_context: Any, headers: dict[str, Any] | None) -> dict[str, Any] | None:
        n = next(header_turn)
        key = next((k for k in headers or {} if k.lower() == "x-purpose"), None)
        if headers is None or key is None or n % 2:
            return headers
        return {**headers, key: purposes[n // 2 % len(purposes)]}

    return schema


def _property(cases: Any, auth: dict[str, str], seen: set[int]) -> Any:
    @given(case=cases)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def answers_as_documented(case: Any) -> None:
        seen.add(case.call_and_validate(headers=auth, checks=CHECKS).status_code)

    return answers_as_documented


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_operation_answers_as_documented(rt: Runtime) -> None:
    token, subject_id, to_shred = _seed(rt)
    schema = _schema(rt, subject_id, to_shred)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40, "the OpenAPI document lost its routes"
    auth = {"Authorization": f"Bearer {token}"}
    failures: dict[str, str] = {}
    statuses: dict[str, set[int]] = collections.defaultdict(set)
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            key = f"{operation.label} ({mode.value})"

            answers_as_documented = _property(operation.as_strategy(generation_mode=mode), auth, statuses[key])
            try:
                answers_as_documented()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong in a request without inputs
            except (Exception, ExceptionGroup) as exc:  # every operation is tried; all failures are reported together
                failures[key] = str(exc)[:3000]
    assert not failures, "\n\n".join(f"== {k}\n{v}" for k, v in failures.items())
    # The credentials work: the test reached past authentication on most of the API.
    unauthenticated_everywhere = [k for k, v in statuses.items() if v == {401}]
    assert not unauthenticated_everywhere
    reached = [k for k, v in statuses.items() if any(200 <= s < 300 for s in v)]
    assert len(reached) >= len(operations) // 4, sorted(reached)


def test_log_sizes_beyond_bigint_are_invalid_input_not_a_crash(client: Any, make_actor: Any) -> None:
    """Found by the test above: a tree size or sequence past 2**63 - 1 overflowed the database driver."""
    actor = make_actor("auditor")
    too_big = 2**63
    answers = [
        client.get(f"/v1/ledger/consistency?first=0&second={too_big}"),
        client.get(f"/v1/ledger/entries/{too_big}", headers=actor.headers),
        client.post("/v1/ledger/cosignatures", json={"size": too_big, "line": "— w x\n"}),
        client.get("/v1/ledger/tile/0/x" + "/x".join(["999"] * 7) + "/000"),
    ]
    assert [a.status_code for a in answers] == [422, 422, 422, 400]
    assert all(a.headers["content-type"] == "application/problem+json" for a in answers)
