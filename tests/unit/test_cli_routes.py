"""``tocsin routes test``: the default rules explain a real alert; bad rules exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router.cli import main

CORPUS = Path(__file__).resolve().parents[1] / "conformance" / "cap-corpus"
REPO = Path(__file__).resolve().parents[2]
AMBER = CORPUS / "oasiscap__v1dot2_appendix_adot4.xml"



def test_default_rules_route_a_severe_alert(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["routes", "test", "--routes", str(REPO / "config/routes.yaml"),
                   "--format", "json", str(AMBER)])
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    targets = report["results"][0]["targets"]
    assert targets[0] == {"channel": "cell_broadcast", "route": "life-threatening",
                          "fallback": ["galileo_ewss"]}
    trace = {step["route"]: step for step in report["results"][0]["trace"]}
    assert trace["drills"]["matched"] is False
    assert trace["drills"]["reason"] == "status=Actual not in [Exercise, Test]"


def test_text_output_explains(capsys: pytest.CaptureFixture[str]) -> None:
    main(["routes", "test", "--routes", str(REPO / "config/routes.yaml"), str(AMBER)])
    out = capsys.readouterr().out
    assert "-> cell_broadcast via life-threatening (fallback: galileo_ewss)" in out


def test_invalid_rules_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "routes.yaml"
    bad.write_text("routes:\n  - id: x\n    match: {severity: [Huge]}\ndefault: [file]\n")
    assert main(["routes", "test", "--routes", str(bad), str(AMBER)]) == 2
    assert f"{bad}:3: routes.0.match.severity.0" in capsys.readouterr().err


def test_unreadable_alert_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.xml"
    junk.write_bytes(b"<nope/>")
    assert main(["routes", "test", "--routes", str(REPO / "config/routes.yaml"), str(junk)]) == 2
    assert "cap.namespace" in capsys.readouterr().err


EXAMPLES = REPO / "config" / "examples"


def test_a_cancel_follows_the_channels_that_carried_the_original(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The whole plan: routing gives the example Cancel (no <info>) the wallet and the
    webhook only, while the service also sends it to cell broadcast and SMS, which
    carried the alert and its Update."""
    files = [str(EXAMPLES / f"nl-alert-fire{part}.xml") for part in ("", "-update", "-cancel")]
    assert main(["routes", "test", "--routes", str(REPO / "config/routes.yaml"),
                 "--format", "json", *files]) == 0
    cancel = json.loads(capsys.readouterr().out)["results"][2]
    plan = {(step["channel"], step["route"]) for step in cancel["plan"]}
    assert {("cell_broadcast", "references"), ("sms", "references")} <= plan
    assert {channel for channel, _route in plan} == {"cell_broadcast", "sms", "eudi_wallet",
                                                     "webhook"}
    assert cancel["held_if_unknown"] is False


def test_a_cancel_alone_says_what_a_store_without_its_original_does(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "test", "--routes", str(REPO / "config/routes.yaml"),
                 str(EXAMPLES / "nl-alert-fire-cancel.xml")]) == 0
    out = capsys.readouterr().out
    assert "references meldkamer@vr-rr.example.nl,NL-VRR-2026-0043: not among the files" in out
    assert "held_unknown_reference" in out
