"""Over the public CAP corpus: every valid alert yields the variants its channels need,
or findings that say why not (a missing language, a form too long by N units)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from render_budgets import CellBroadcastBudget, SmsBudget

from router.assets import load_accessibility
from router.cap import parse_cap
from router.cap.model import MsgType
from router.channel import Capabilities
from router.render import Renderer, fit_findings, preview
from router.render.variants import primary
from router.routing import Router, load_routing

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "conformance" / "cap-corpus"
RENDERER = Renderer(load_accessibility(REPO / "config" / "accessibility"))
ROUTER = Router(load_routing(REPO / "config" / "routes.yaml"))


@dataclass(frozen=True)
class Utf8Budget:
    """A push payload's room for text, in UTF-8 bytes."""

    limit: int
    name: str = "push payload bytes"

    def cost(self, text: str) -> int:
        return len(text.encode("utf-8"))


CHANNELS = {  # the text channels of config/routes.yaml, with stand-in budgets
    "cell_broadcast": Capabilities(budget=lambda _l: CellBroadcastBudget(15)),
    "sms": Capabilities(budget=lambda _l: SmsBudget(3)),
    "eudi_wallet": Capabilities(budget=lambda _l: Utf8Budget(3000)),
}


def _valid_alerts() -> list[dict[str, Any]]:
    manifest = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
    return [e for e in manifest["files"] if e["kind"] == "alert" and e["expect"] == "valid"]


@pytest.mark.parametrize("entry", _valid_alerts(), ids=lambda e: str(e["file"]))
def test_variants_or_findings_for_every_channel(entry: dict[str, Any]) -> None:
    document = parse_cap((CORPUS / entry["file"]).read_bytes()).document
    assert document is not None
    alert = document.alert
    rendered = RENDERER.render(alert)
    codes = {f.code for f in rendered.findings}
    present = {primary(lang) for lang in rendered.languages}
    if alert.msg_type in (MsgType.ALERT, MsgType.UPDATE) and alert.infos:
        for language in RENDERER.config.required_languages:
            assert language in present or "render.language.missing" in codes, language
    for variant in rendered.variants:
        assert dict(variant.slots)["hazard"], variant.language
    targets = {t.channel for t in ROUTER.decide(alert).targets} & set(CHANNELS)
    rows = preview(rendered, {n: CHANNELS[n] for n in targets}, {})
    findings = {f.location: f for f in fit_findings(rows)}
    for row in rows:
        where = f"/variants/{row.target}/{row.fitted.language}"
        if row.fitted.fits:
            assert where not in findings
        else:
            assert f"{row.fitted.overflow} too many" in findings[where].message


def test_corpus_exercises_both_outcomes() -> None:
    """The corpus has alerts that miss the NL languages and alerts too long for one page."""
    missing, too_long = 0, 0
    for entry in _valid_alerts():
        document = parse_cap((CORPUS / entry["file"]).read_bytes()).document
        assert document is not None
        rendered = RENDERER.render(document.alert)
        missing += any(f.code == "render.language.missing" for f in rendered.findings)
        rows = preview(rendered, {"one-page": Capabilities(
            budget=lambda _l: CellBroadcastBudget(1))}, {})
        too_long += bool(fit_findings(rows))
    assert missing >= 5
    assert too_long >= 5
