"""The wallet document carries the rendered variants and their media: the text the
renderer made (not the plain CAP text), each spoken alert Tocsin made with its SHA-256,
the sign-language clips the CAP links; and, when the audio was not made yet at signing
time, says so and where to fetch the document again."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from wallet_support import example

from channels.eudi_wallet.device import RefusedError, check_asset
from channels.eudi_wallet.document import Utf8Budget, full_document, tickle
from channels.eudi_wallet.headers import topic
from router.assets import load_accessibility
from router.cap import parse_cap
from router.channel import Asset, Delivery, MediaVariants, PlainVariants
from router.render import RenderedAlert, Renderer

REPO = Path(__file__).resolve().parents[2]
RENDERER = Renderer(load_accessibility(REPO / "config" / "accessibility"))
BASE = "https://tocsin.example"
AUDIO = b"OggS....OpusHead spoken alert"
SPOKEN = Asset(kind="audio", mime_type="audio/ogg; codecs=opus",
               description="Spoken alert (nl-NL)", language="nl-NL", name="speech-nl-nl.opus",
               sha256=hashlib.sha256(AUDIO).hexdigest(), size=len(AUDIO), duration_s=4.2)


def rendered(delivery: Delivery) -> RenderedAlert:
    return RENDERER.render(delivery.alert)


def document(delivery: Delivery, *, public: bool = True) -> dict[str, Any]:
    return full_document(
        delivery, issuer="test", topic=topic(delivery.alert), now=delivery.alert.sent,
        max_vertices=48, text_budget=Utf8Budget(8000),
        asset_url=(lambda name: f"{BASE}/api/v1/wallet/alerts/01TEST/assets/{name}")
        if public else None,
        fetch_url=f"{BASE}/api/v1/wallet/alerts/01TEST" if public else None)


def assets(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc["assets"])


def test_rendered_variants_are_media_variants_and_plain_ones_are_not() -> None:
    delivery = example()
    assert isinstance(rendered(delivery), MediaVariants)
    assert not isinstance(PlainVariants(delivery.alert), MediaVariants)


def test_the_text_is_the_rendered_summary_not_the_plain_cap_text() -> None:
    delivery = example()
    variants = rendered(delivery)
    doc = document(replace(delivery, variants=variants))
    plain = document(delivery)
    texts = {v["lang"]: v["text"] for v in doc["variants"]}
    english = variants.variant("en-GB")
    assert english is not None
    assert texts["en-GB"] == english.summary
    assert texts != {v["lang"]: v["text"] for v in plain["variants"]}


def test_audio_made_before_the_push_is_listed_with_its_sha256() -> None:
    delivery = example()
    variants = rendered(delivery).with_speech((SPOKEN,), "done")
    doc = document(replace(delivery, variants=variants))
    [audio] = [a for a in assets(doc) if a["kind"] == "audio"]
    assert audio == {"kind": "audio", "mime": "audio/ogg; codecs=opus", "lang": "nl-NL",
                     "url": f"{BASE}/api/v1/wallet/alerts/01TEST/assets/speech-nl-nl.opus",
                     "desc": "Spoken alert (nl-NL)", "sha256": SPOKEN.sha256, "sha1": None,
                     "size": len(AUDIO), "duration_s": 4.2}
    assert doc["speech_pending"] is False
    assert "fetch" not in doc
    check_asset(audio, AUDIO)  # what a phone does before playing it


def test_audio_not_made_yet_is_absent_and_the_document_says_where_to_look_again() -> None:
    delivery = example()
    doc = document(replace(delivery, variants=rendered(delivery).with_speech((), "pending")))
    assert [a for a in assets(doc) if a["kind"] == "audio"] == []
    assert doc["speech_pending"] is True
    assert doc["fetch"] == f"{BASE}/api/v1/wallet/alerts/01TEST"
    small = tickle(doc, str(doc["fetch"]), with_area=True)
    assert "speech_pending" not in small  # the fetched document says it, not the tickle
    assert small["fetch"] == doc["fetch"]


def test_without_a_public_url_no_tocsin_file_is_named_and_nothing_is_promised() -> None:
    delivery = example()
    for state, speech in (("done", (SPOKEN,)), ("pending", ())):
        variants = rendered(delivery).with_speech(speech, state)
        doc = document(replace(delivery, variants=variants), public=False)
        assert [a for a in assets(doc) if a["kind"] == "audio"] == []
        assert doc["speech_pending"] is False
        assert "fetch" not in doc


def test_a_clip_the_renderer_calls_sign_language_is_marked_so() -> None:
    # "NGT" is a configured sign-language marker; the wallet's own fallback does not know it
    delivery = example("wallet-flood-accessible.xml")
    raw = delivery.raw.replace(b"Sign language video (NGT)", b"Video in NGT")
    parsed = parse_cap(raw).document
    assert parsed is not None
    delivery = replace(delivery, alert=parsed.alert, raw=raw)
    video = "https://assets.example.nl/alerts/NL-VRR-2026-0107/ngt.mp4"
    plain = {a["url"]: a for a in assets(document(delivery))}
    assert plain[video]["kind"] == "video"
    with_media = {a["url"]: a for a in assets(document(
        replace(delivery, variants=rendered(delivery).with_speech((), "off"))))}
    assert with_media[video]["kind"] == "sign_language"
    assert with_media[video]["sha256"] is None  # CAP gives SHA-1 only
    assert with_media[video]["size"] == 1843200
    assert with_media[video]["sha1"] == "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d"
    assert with_media["https://assets.example.nl/alerts/NL-VRR-2026-0107/en.mp3"]["kind"] \
        == "audio"  # the CAP's own audio still passes through


def test_speech_is_never_part_of_the_stored_variants() -> None:
    variants = rendered(example())
    spoken = variants.with_speech((SPOKEN,), "done")
    assert spoken.to_json() == variants.to_json()
    back = RenderedAlert.from_json(spoken.to_json())
    assert back.speech == ()
    assert back.speech_state is None


def test_a_phone_refuses_audio_that_does_not_match_its_hash() -> None:
    audio = {"url": "u", "sha256": SPOKEN.sha256}
    with pytest.raises(RefusedError, match="does not match") as refused:
        check_asset(audio, AUDIO + b"x")
    assert refused.value.reason == "asset"
    with pytest.raises(RefusedError, match="no SHA-256"):
        check_asset({"url": "u", "sha256": None, "sha1": "ab" * 20}, AUDIO)
