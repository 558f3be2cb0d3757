"""Every file in the public CAP corpus gets the verdict its manifest lists.

The manifest (``cap-corpus/manifest.json``, a copy of the shared public corpus) was written by people
other than Tocsin's authors; this test walks it rather than a hand-picked list,
so a file added to the corpus is tested without touching this module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from router.cap import has_errors, parse_cap, serialize

CORPUS = Path(__file__).resolve().parent / "cap-corpus"


def _entries() -> list[dict[str, Any]]:
    manifest = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
    entries: list[dict[str, Any]] = manifest["files"]
    return entries


ENTRIES = _entries()


def test_manifest_is_not_empty() -> None:
    assert len([e for e in ENTRIES if e["kind"] == "alert"]) >= 20


@pytest.mark.parametrize(
    "entry", [e for e in ENTRIES if e["kind"] == "alert"], ids=lambda e: str(e["file"])
)
def test_alert_gets_manifest_verdict(entry: dict[str, Any]) -> None:
    outcome = parse_cap((CORPUS / entry["file"]).read_bytes())
    errors = [f for f in outcome.findings if f.severity == "error"]
    if entry["expect"] == "valid":
        assert outcome.ok, f"expected valid; errors: {errors}"
        assert outcome.document is not None
        assert outcome.document.source_version == entry["cap_version"]
    else:
        assert not outcome.ok
        assert has_errors(outcome.findings), "an invalid alert must carry an error finding"


@pytest.mark.parametrize(
    "entry", [e for e in ENTRIES if e["kind"] != "alert"], ids=lambda e: str(e["file"])
)
def test_feeds_and_other_files_are_refused_safely(entry: dict[str, Any]) -> None:
    """Feeds are for feed ingest; as a single alert they must be refused with a finding."""
    outcome = parse_cap((CORPUS / entry["file"]).read_bytes())
    assert not outcome.ok
    assert outcome.findings
    codes = {f.code for f in outcome.findings}
    if entry["kind"] == "feed":
        assert codes & {"cap.feed", "xml.dtd-forbidden", "xml.malformed"}, codes


@pytest.mark.parametrize(
    "entry",
    [e for e in ENTRIES if e["kind"] == "alert" and e["expect"] == "valid"],
    ids=lambda e: str(e["file"]),
)
def test_valid_alert_round_trips_through_serializer(entry: dict[str, Any]) -> None:

    first = parse_cap((CORPUS / entry["file"]).read_bytes())
    assert first.document is not None
    again = parse_cap(serialize(first.document.alert))
    assert again.document is not None
    assert again.document.alert == first.document.alert
