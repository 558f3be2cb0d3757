"""The console's UI language: ``?lang=``, then its cookie, then the browser's ranked
``Accept-Language`` (by q-value, not order alone), else English; never a language
without a string table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from router.console.routes import LANG_COOKIE, STATIC, UI_LANGUAGES, ui_language


@pytest.mark.parametrize(("path", "headers", "expected"), [
    ("/console/", {}, "en"),
    ("/console/", {"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.8"}, "nl"),
    ("/console/", {"Accept-Language": "de-DE, en;q=0.5, nl;q=0.7"}, "nl"),
    ("/console/", {"Accept-Language": "fr, de"}, "en"),
    ("/console/", {"Accept-Language": "nl;q=bad, en;q=0.1"}, "en"),
    ("/console/?lang=en", {"Accept-Language": "nl"}, "en"),
    ("/console/?lang=xx", {"Accept-Language": "nl"}, "nl"),
    ("/console/", {"Cookie": f"{LANG_COOKIE}=nl", "Accept-Language": "en"}, "nl"),
    ("/console/?lang=en", {"Cookie": f"{LANG_COOKIE}=nl"}, "en"),
])
def test_ui_language(path: str, headers: dict[str, str], expected: str) -> None:
    assert ui_language(make_mocked_request("GET", path, headers=headers)) == expected


def test_every_language_has_every_string() -> None:
    tables = {language: json.loads((STATIC / "i18n" / f"{language}.json").read_text("utf-8"))
              for language in UI_LANGUAGES}
    keys = {language: set(table) for language, table in tables.items()}
    assert keys["nl"] == keys["en"]
    # every data-i18n key a page names is in the tables
    named = set()
    for page in Path(STATIC).glob("*.html"):
        text = page.read_text(encoding="utf-8")
        for marker in ('data-i18n="', 'data-i18n-aria="'):
            for part in text.split(marker)[1:]:
                named.add(part.split('"', 1)[0])
    assert named <= keys["en"], named - keys["en"]
    # and every key console.js asks for by name
    script = (STATIC / "console.js").read_text(encoding="utf-8")
    asked = set(re.findall(r'\bt\("([^"]+)"', script))
    assert "drafts.saved" in asked
    prefixes = {key for key in asked if key.endswith(".")}  # t("banner." + status)
    for prefix, values in {"banner.": ("Exercise", "Test"), "mark.": ("Exercise", "Test"),
                           "status.": ("Actual", "Exercise", "Test"),
                           "action.": ("approve", "reject", "cancel")}.items():
        assert prefix in prefixes
        asked |= {prefix + value for value in values}
    asked -= prefixes
    assert asked <= keys["en"], asked - keys["en"]
