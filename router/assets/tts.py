"""Spoken variants: text to WAV with ``espeak-ng`` and the voice of the text's language.

Stage: assets (runs a process, writes files). The voice comes from
``tts.voices`` in ``config/accessibility/accessibility.yaml`` (language -> voice),
else the language's own primary subtag, and must be one ``espeak-ng --voices``
lists *for that language*: a Dutch text is never read by an English voice. MBROLA
voices (``mb/...``) are skipped: they need separate voice data Debian does not
install with ``espeak-ng``.

Every failure is a ``SpeechError`` with a code for the finding the caller records
(``render.tts.unavailable`` when ``espeak-ng`` is missing, ``render.tts.no-voice``,
``render.tts.failed``); speech is an extra for people who listen, so its failure
never touches the alert or its deliveries. ``espeak-ng`` runs under ``nice -n 10``:
on a busy node, taking alerts in and delivering them comes before speaking them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import wave
from dataclasses import dataclass
from pathlib import Path

from router.render.config import TtsSettings
from router.render.variants import primary

WAV_MIME = "audio/wav"


class SpeechError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Voice:
    language: str  # as espeak-ng names it: "nl", "en-gb"
    name: str
    file: str


@dataclass(frozen=True)
class Speech:
    voice: Voice
    path: Path
    size: int
    sha256: str
    sha1: str  # CAP 1.2 <digest> is SHA-1
    duration_s: float


def wav_duration(path: Path) -> float:
    """Seconds of audio in a WAV file; ``wave.Error`` when it is not a RIFF/WAVE PCM file."""
    with wave.open(str(path), "rb") as audio:
        rate = audio.getframerate()
        return audio.getnframes() / rate if rate else 0.0


def parse_voices(listing: str) -> list[Voice]:
    """Rows of ``espeak-ng --voices``: ``Pty Language Age/Gender VoiceName File Other``."""
    voices = []
    for line in listing.splitlines()[1:]:
        cells = line.split()
        if len(cells) >= 5:
            voices.append(Voice(cells[1], cells[3], cells[4]))
    return voices


class Speaker:
    """Runs ``espeak-ng``; one instance per service, voices listed once per language."""

    def __init__(self, settings: TtsSettings, binary: str | None = None) -> None:
        self.settings = settings
        self.binary = binary or shutil.which("espeak-ng")
        nice = shutil.which("nice")
        self._prefix = (nice, "-n", "10") if nice else ()  # ingest and delivery come first
        self._voices: dict[str, list[Voice]] = {}

    async def _run(self, *args: str, stdin: bytes | None = None) -> bytes:
        if self.binary is None:
            raise SpeechError("render.tts.unavailable",
                              "espeak-ng is not installed; no spoken variants are made")
        process = await asyncio.create_subprocess_exec(
            *self._prefix, self.binary, *args, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                out, err = await process.communicate(stdin)
        except TimeoutError as exc:
            await _reap(process)
            raise SpeechError("render.tts.failed", f"espeak-ng took longer than "
                              f"{self.settings.timeout_s:g} s") from exc
        except asyncio.CancelledError:
            # shutdown while speaking: kill the child and close its pipes before going
            await asyncio.shield(_reap(process))
            raise
        if process.returncode != 0:
            raise SpeechError("render.tts.failed", f"espeak-ng exited {process.returncode}: "
                              f"{err.decode(errors='replace').strip()[:200]}")
        return out

    async def voice_for(self, language: str) -> Voice:
        key = primary(language)
        if key not in self._voices:
            listing = await self._run(f"--voices={key}")
            self._voices[key] = [v for v in parse_voices(listing.decode(errors="replace"))
                                 if primary(v.language) == key and not v.file.startswith("mb/")]
        candidates = self._voices[key]
        wanted = self.settings.voices.get(key, key).lower()
        voice = next((v for v in candidates if v.language.lower() == wanted), None)
        voice = voice or next(iter(candidates), None)
        if voice is None:
            raise SpeechError("render.tts.no-voice",
                              f"espeak-ng has no voice for language {language!r}")
        return voice

    async def speak(self, text: str, language: str, path: Path) -> Speech:
        """Write ``text`` spoken in ``language`` to ``path`` (atomically) as WAV."""
        voice = await self.voice_for(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        await self._run("-v", voice.language, "-b", "1", "-w", str(partial), "--stdin",
                        stdin=text.encode("utf-8"))
        try:
            duration = await asyncio.to_thread(wav_duration, partial)
            data = await asyncio.to_thread(partial.read_bytes)
        except (OSError, wave.Error, EOFError) as exc:
            raise SpeechError("render.tts.failed", f"espeak-ng wrote no usable WAV: {exc}"
                              ) from exc
        if duration <= 0:
            raise SpeechError("render.tts.failed", "espeak-ng wrote an empty WAV")
        os.replace(partial, path)
        return Speech(voice, path, len(data), hashlib.sha256(data).hexdigest(),
                      hashlib.sha1(data, usedforsecurity=False).hexdigest(), duration)


async def _reap(process: asyncio.subprocess.Process) -> None:
    """Kill a child and wait for it, so its pipes are closed rather than leaked."""
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await process.communicate()
