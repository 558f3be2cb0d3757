"""Variant rendering speed on the medium alert, as a ratio to parsing it in the same run.

For the medium fixture (two languages, ``tests/fixtures/cap/medium.xml``):

- ``parse``   what ingest does first: hardened parse, XSD, model, CAP rules and the
              ``nl-alert`` profile (``ProfileSet.validate``);
- ``render``  what ingest adds: every variant of both languages (screen-reader text,
              summary, readability, icon, cadence), fitting it to a 15-page cell
              broadcast and a 3-part SMS budget, and the JSON stored with the alert.

Each rendered alert has a description no other alert in the run had, so no cache of
whole texts could answer for it (a real stream of alerts is not repeated text); the
per-word syllable cache does answer for the words alerts share, as it does in service.
Target (issue "Accessibility variants"): rendering must not dominate ingest, read as
render / parse <= 1.0. Prints PASS/MISS; exits 0 either way.

TTS is measured separately (it runs after the 202, not in the request): seconds of
``espeak-ng`` and ``opusenc`` per language and the audio's own duration, as a
real-time factor, and the size of the stored Ogg Opus file beside the WAV that
``?format=wav`` decodes from it.

Run: ``.venv/bin/python bench/render.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from verdicts import verdict

from router.assets import load_accessibility
from router.assets.speech import spoken_text
from router.assets.tts import Speaker, opus_to_wav
from router.cap import parse_cap
from router.cap.model import Alert
from router.profiles import load_profiles
from router.render import Renderer

REPO = Path(__file__).resolve().parent.parent
MEDIUM = (REPO / "tests" / "fixtures" / "cap" / "medium.xml").read_bytes()
TARGET = 1.0


class Pages:
    """15 cell-broadcast pages of 93 characters (a stand-in budget; no channel code)."""

    name, limit = "15 pages", 15

    def cost(self, text: str) -> int:
        return math.ceil(len(text) / 93)


class Parts:
    name, limit = "3 SMS parts", 3

    def cost(self, text: str) -> int:
        return 1 if len(text) <= 160 else math.ceil(len(text) / 153)


def distinct_alerts(alert: Alert, count: int) -> list[Alert]:
    """``count`` copies of ``alert``, each with a description of its own."""
    return [alert.model_copy(update={"infos": tuple(
        info.model_copy(update={"description": f"{info.description} ({n})"})
        for info in alert.infos)}) for n in range(count)]


def per_call(fn: Callable[[], Any], loops: int) -> float:
    start = time.perf_counter()
    for _ in range(loops):
        fn()
    return (time.perf_counter() - start) / loops


def measure(rounds: int, loops: int) -> tuple[float, float]:
    profiles = load_profiles()
    document = parse_cap(MEDIUM).document
    assert document is not None
    renderer = Renderer(load_accessibility(REPO / "config" / "accessibility"))
    alerts = iter(distinct_alerts(document.alert, rounds * loops + 1))
    budgets = (Pages(), Parts())

    def render() -> None:
        rendered = renderer.render(next(alerts))
        for language in rendered.languages:
            for budget in budgets:
                rendered.fit(language, budget)
        rendered.to_json()

    render()  # load the hyphenation dictionaries once, as a running service has
    parse_times, render_times = [], []
    for _ in range(rounds):  # interleaved, so a noisy neighbour hits both alike
        parse_times.append(per_call(lambda: profiles.validate(MEDIUM, "nl-alert"), loops))
        render_times.append(per_call(render, loops))
    return statistics.median(parse_times), statistics.median(render_times)


async def speech(runs: int) -> list[tuple[str, float, float, int, int]]:
    document = parse_cap(MEDIUM).document
    assert document is not None
    config = load_accessibility(REPO / "config" / "accessibility")
    rendered = Renderer(config).render(document.alert)
    speaker = Speaker(config.tts)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for language in rendered.languages:
            text = spoken_text(rendered, language)
            await speaker.voice_for(language)  # the voice listing once, outside the timing
            took, audio, size, wav = [], 0.0, 0, 0
            for run in range(runs):
                start = time.perf_counter()
                made = await speaker.speak(text, language, Path(tmp) / f"{language}{run}.opus")
                took.append(time.perf_counter() - start)
                audio, size = made.duration_s, made.size
                wav = len(await opus_to_wav(made.path))
            results.append((language, statistics.median(took), audio, size, wav))
    return results


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--quick", action="store_true", help="a few short rounds (smoke test)")
    options = args.parse_args()
    rounds, loops, runs = (3, 5, 1) if options.quick else (9, 60, 5)
    parse, render = measure(rounds, loops)
    ratio = render / parse
    print(f"medium alert ({len(MEDIUM)} bytes, 2 languages), median of {rounds} rounds:")
    print(f"  parse + validate (nl-alert)  {parse * 1e6:9.1f} us   {1 / parse:8.0f} alerts/s")
    print(f"  render all variants          {render * 1e6:9.1f} us   {1 / render:8.0f} variants/s")
    print(f"{'PASS' if ratio <= TARGET else 'MISS'}: render / parse = {ratio:.2f} "
          f"(target <= {TARGET})")
    verdict("render", "render_over_parse", ratio, f"<= {TARGET:g}", ratio <= TARGET)
    if not all(shutil.which(tool) for tool in ("espeak-ng", "opusenc", "opusdec")):
        print("espeak-ng or opus-tools not installed: speech not measured")
        return 0
    print(f"speech (espeak-ng + opusenc, after the 202), median of {runs} runs:")
    for language, took, audio, size, wav in asyncio.run(speech(runs)):
        print(f"  {language:6} {took * 1000:8.1f} ms for {audio:5.1f} s of audio "
              f"(real-time factor {took / audio:.3f}); Ogg Opus {size:,} bytes, "
              f"WAV {wav:,} bytes ({wav / size:.1f} x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
