"""policy check, explain, matrix; bad files never half-load; the runtime keeps the last good policy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lendshield.catalog import load_catalog
from lendshield.cli.main import app
from lendshield.policy import PolicyInvalid, check_files, load_policy
from lendshield.runtime import Runtime
from lendshield.settings import Settings

POLICIES = Settings().policies_dir


@pytest.fixture
def pdir(tmp_path: Path) -> Path:
    out = tmp_path / "policies"
    out.mkdir()
    for name in ("catalog.yaml", "purposes.yaml", "policy.yaml"):
        shutil.copy(POLICIES / name, out / name)
    return out


def _break(path: Path, old: str, new: str) -> int:
    text = path.read_text(encoding="utf-8")
    assert old in text
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("policy.yaml", "roles: [loan_system]", "roles: [loan_sytem]", "unknown role 'loan_sytem'"),
        ("policy.yaml", "purposes: [loan_servicing]", "purposes: [loan_servcing]", "unknown purpose 'loan_servcing'"),
        ("policy.yaml", "fields: [mobile]", "fields: [mobil]", "unknown field 'mobil'"),
        ("policy.yaml", "when: [open_ticket]", "when: [ticket_open]", "unknown condition 'ticket_open'"),
        ("policy.yaml", "effect: mask", "effect: show", "effect must be clear, mask or deny"),
        ("purposes.yaml", "legal_basis: contract", "legal_basis: vibes", "legal_basis must be one of"),
        ("purposes.yaml", "fields: [name, mobile, address, relationship]", "fields: [name, phone]", "unknown field 'phone'"),
    ],
)
def test_check_names_file_and_line(pdir: Path, file: str, old: str, new: str, message: str) -> None:
    _break(pdir / file, old, new)
    engine, errors = check_files(pdir, load_catalog(pdir))
    assert engine is None
    assert errors, "an error was expected"
    text = "\n".join(str(e) for e in errors)
    assert message in text
    assert all(e.file == file and e.line > 0 for e in errors)


def test_check_line_is_the_rules_line(pdir: Path) -> None:
    line = (
        _break(pdir / "policy.yaml", "  - id: cs-servicing\n    roles: [customer_service]", "  - id: cs-servicing\n    roles: [nobody]") + 1
    )
    _, errors = check_files(pdir, load_catalog(pdir))
    assert [(e.file, e.line) for e in errors] == [("policy.yaml", line)]


def test_overlapping_rules_are_an_error(pdir: Path) -> None:
    with (pdir / "policy.yaml").open("a", encoding="utf-8") as f:
        f.write(
            "\n  - id: dup\n    roles: [customer_service]\n    purposes: [loan_servicing]\n    categories: [contact]\n    effect: clear\n"
        )
    _, errors = check_files(pdir, load_catalog(pdir))
    assert any("overlaps rule 'cs-servicing'" in str(e) for e in errors)


def test_malformed_yaml_never_half_loads(pdir: Path) -> None:
    (pdir / "policy.yaml").write_text("rules:\n  - id: x\n    roles: [admin\n", encoding="utf-8")
    with pytest.raises(PolicyInvalid) as info:
        load_policy(pdir, load_catalog(pdir))
    assert "policy.yaml:" in str(info.value)


def test_runtime_keeps_last_good_policy_and_says_why(rt: Runtime, pdir: Path) -> None:
    good = rt.policy
    rt.settings = rt.settings.model_copy(update={"policies_dir": pdir})
    _break(pdir / "policy.yaml", "roles: [auditor]", "roles: [auditer]")
    why = rt.reload_policy()
    assert why is not None
    assert "policy.yaml" in why
    assert "auditer" in why
    assert rt.policy is good
    assert rt.policy_error == why
    _break(pdir / "policy.yaml", "roles: [auditer]", "roles: [auditor]")
    assert rt.reload_policy() is None
    assert rt.policy is not good
    assert rt.policy_error is None


def test_cli_check_ok_and_error(pdir: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["policy", "check", "--dir", str(pdir)])
    assert ok.exit_code == 0, ok.output
    assert "ok:" in ok.output
    line = _break(pdir / "policy.yaml", "fields: [device_imei]", "fields: [imei]")
    bad = runner.invoke(app, ["policy", "check", "--dir", str(pdir)])
    assert bad.exit_code == 1
    assert f"policy.yaml:{line}: unknown field 'imei'" in bad.output


def test_cli_explain() -> None:
    out = CliRunner().invoke(app, ["policy", "explain", "--role", "collector", "--purpose", "collection", "--field", "mobile"])
    assert out.exit_code == 0, out.output
    assert "decision: mask [collector-assigned-phone]" in out.output
    assert "collector_assigned_overdue" in out.output
    assert "when not met: deny" in out.output
    denied = CliRunner().invoke(app, ["policy", "explain", "--role", "admin", "--purpose", "rights_request", "--field", "name"])
    assert "decision: deny [admin-no-personal-data]" in denied.output


def test_cli_matrix_writes_table(tmp_path: Path) -> None:
    out = tmp_path / "m.md"
    result = CliRunner().invoke(app, ["policy", "matrix", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "| collection | mobile | mask | collector_assigned_overdue | collector-assigned-phone |" in out.read_text(encoding="utf-8")


def test_reload_over_http_keeps_last_good_policy(rt: Runtime, pdir: Path, client, make_actor) -> None:  # type: ignore[no-untyped-def]
    officer = make_actor("protection_officer")
    collector = make_actor("collector")
    rules_in_force = client.get("/v1/policy", headers=officer.headers).json()["rules"]
    rt.settings = rt.settings.model_copy(update={"policies_dir": pdir})
    _break(pdir / "purposes.yaml", "retention_days: 365\n", "retention_days: -1\n")
    assert client.post("/v1/policy/reload", headers=collector.headers).status_code == 403
    resp = client.post("/v1/policy/reload", headers=officer.headers)
    assert resp.status_code == 200
    body = resp.json()
    assert "purposes.yaml:" in body["last_reload_error"]
    assert "retention_days" in body["last_reload_error"]
    assert body["rules"] == rules_in_force  # the last good policy stays in force
    assert client.get("/v1/policy", headers=collector.headers).json()["last_reload_error"] == body["last_reload_error"]
