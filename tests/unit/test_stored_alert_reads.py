"""Reading back an alert the store holds does not validate it again (a regression guard,
counted rather than timed): it was validated in full when accepted, and the
dispatcher, the speech worker, the dashboard, the variants and the wallet routes read it
back once per channel, file or request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.cap import parse, parse_cap, read_stored, schema
from router.cap import rules as spec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cap"
EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real_schema, real_spec = schema.schema_findings, spec.spec_findings

    def schema_counted(*args: Any) -> Any:
        calls.append("xsd")
        return real_schema(*args)

    def spec_counted(*args: Any) -> Any:
        calls.append("spec")
        return real_spec(*args)
    monkeypatch.setattr(parse, "schema_findings", schema_counted)
    monkeypatch.setattr(parse, "spec_findings", spec_counted)
    return calls


@pytest.mark.parametrize("path", [*sorted(FIXTURES.glob("*.xml")),
                                  *sorted(EXAMPLES.glob("*.xml"))], ids=lambda p: p.name)
def test_a_stored_alert_reads_back_as_the_accepted_model_without_validation(
        path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = path.read_bytes()
    accepted = parse_cap(raw)
    if accepted.document is None:
        pytest.skip(f"{path.name} is not an acceptable alert")
    calls = _counting(monkeypatch)
    assert read_stored(raw) == accepted.document.alert
    assert calls == []


def test_stored_cap_1_1_is_upgraded_as_at_acceptance() -> None:
    raw = (FIXTURES / "small.xml").read_bytes().replace(
        b"urn:oasis:names:tc:emergency:cap:1.2", b"urn:oasis:names:tc:emergency:cap:1.1")
    accepted = parse_cap(raw).document
    assert accepted is not None
    assert accepted.source_version == "1.1"
    assert read_stored(raw) == accepted.alert


@settings(max_examples=50)
@given(st.binary(max_size=200))
def test_bytes_that_were_never_an_alert_read_as_none(data: bytes) -> None:
    assert read_stored(data) is None
