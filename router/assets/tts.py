"""Spoken variants: text to speech with ``espeak-ng`` and the voice of the text's language,
stored as Opus in Ogg (``opusenc``), decoded back to WAV (``opusdec``) only when asked.

Stage: assets (runs a process, writes files). The voice comes from
``tts.voices`` in ``config/accessibility/accessibility.yaml`` (language -> voice),
else the language's own primary subtag, and must be one ``espeak-ng --voices``
lists *for that language*: a Dutch text is never read by an English voice. MBROLA
voices (``mb/...``) are skipped: they need separate voice data Debian does not
install with ``espeak-ng``.

Every failure is a ``SpeechError`` with a code for the finding the caller records
(``render.tts.unavailable`` when ``espeak-ng`` is missing, ``render.tts.no-voice``,
``render.tts.failed``); speech is an extra for people who listen, so its failure
never touches the alert or its deliveries. ``espeak-ng`` and ``opusenc`` run under
``nice -n 10``: on a busy node, taking alerts in and delivering them comes before
speaking them.

Why Opus: ``espeak-ng`` writes 16-bit mono PCM at 22,050 Hz, about 44 KB a second
(a two-language alert came to ~430 KB); Opus in its speech mode at 24 kbit/s keeps
the voice clear at about 3 KB a second, and every current browser, Android and iOS
plays ``audio/ogg; codecs=opus``. The WAV is made only for a client that asks for it
(``?format=wav``) and never stored. The Ogg Opus file is what the SHA-256 and the
CAP ``<digest>`` (SHA-1) describe.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import shutil
import wave
from dataclasses import dataclass
from pathlib import Path

from router.render.config import TtsSettings
from router.render.variants import primary

WAV_MIME = "audio/wav"
OPUS_MIME = "audio/ogg; codecs=opus"
OPUS_SUFFIX = ".opus"


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

    def __init__(self, settings: TtsSettings, binary: str | None = None,
                 encoder: str | None = None) -> None:
        self.settings = settings
        self.binary = binary or shutil.which("espeak-ng")
        self.encoder = encoder or shutil.which("opusenc")
        nice = shutil.which("nice")
        self._prefix = (nice, "-n", "10") if nice else ()  # ingest and delivery come first
        self._voices: dict[str, list[Voice]] = {}

    async def _run(self, *args: str, stdin: bytes | None = None) -> bytes:
        if self.binary is None:
            raise SpeechError("render.tts.unavailable",
                              "espeak-ng is not installed; no spoken variants are made")
        return await _run("espeak-ng", (*self._prefix, self.binary, *args), stdin,
                          self.settings.timeout_s)

    async def _encode(self, wav: Path, opus: Path) -> None:
        if self.encoder is None:
            raise SpeechError("render.tts.unavailable", "opusenc is not installed (Debian "
                              "package opus-tools); no spoken variants are made")
        await _run("opusenc", (*self._prefix, self.encoder, "--quiet", "--speech",
                               "--downmix-mono", "--bitrate", str(self.settings.bitrate_kbps),
                               "--comp", str(self.settings.complexity), str(wav), str(opus)),
                   None, self.settings.timeout_s)

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
        """Write ``text`` spoken in ``language`` to ``path`` (atomically) as Ogg Opus.

        ``espeak-ng`` writes a WAV beside it first (its duration is the audio's); the
        WAV is removed once ``opusenc`` has encoded it, whatever happened."""
        voice = await self.voice_for(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        spoken = path.with_name(path.name + ".wav.part")
        try:
            await self._run("-v", voice.language, "-b", "1", "-w", str(spoken), "--stdin",
                            stdin=text.encode("utf-8"))
            try:
                duration = await asyncio.to_thread(wav_duration, spoken)
            except (OSError, wave.Error, EOFError) as exc:
                raise SpeechError("render.tts.failed",
                                  f"espeak-ng wrote no usable WAV: {exc}") from exc
            if duration <= 0:
                raise SpeechError("render.tts.failed", "espeak-ng wrote an empty WAV")
            await self._encode(spoken, partial)
            data = await asyncio.to_thread(partial.read_bytes)
        finally:
            spoken.unlink(missing_ok=True)
        if opus_head(data) is None:
            partial.unlink(missing_ok=True)
            raise SpeechError("render.tts.failed", "opusenc wrote no Ogg Opus stream")
        os.replace(partial, path)
        return Speech(voice, path, len(data), hashlib.sha256(data).hexdigest(),
                      hashlib.sha1(data, usedforsecurity=False).hexdigest(), duration)


@dataclass(frozen=True)
class OpusHead:
    channels: int
    input_rate: int  # Hz of the audio before encoding (0: not said)


def opus_head(data: bytes) -> OpusHead | None:
    """The identification header of an Ogg Opus stream (RFC 7845 section 5.1), or None
    when ``data`` does not start with an Ogg page carrying one."""
    if data[:4] != b"OggS" or len(data) < 28:
        return None
    start = 27 + data[26]  # the page header, then its segment table
    head = data[start:start + 19]
    if len(head) < 19 or head[:8] != b"OpusHead":
        return None
    return OpusHead(channels=head[9], input_rate=int.from_bytes(head[12:16], "little"))


async def opus_to_wav(path: Path, *, binary: str | None = None,
                      timeout_s: float = 30.0) -> bytes:
    """The WAV (16-bit PCM, the stream's channels, its original rate) of an Ogg Opus file,
    decoded by ``opusdec`` for a client that asked for WAV; raises ``SpeechError``
    (``render.tts.unavailable`` without ``opusdec``, else ``render.tts.failed``).

    ``opusdec`` writes raw PCM when its output is a pipe, so the RIFF header is made here
    (``wave``), with the rate and channels the stream's own header gives."""
    decoder = binary or shutil.which("opusdec")
    if decoder is None:
        raise SpeechError("render.tts.unavailable",
                          "opusdec is not installed (Debian package opus-tools)")
    head = opus_head(await asyncio.to_thread(_start_of, path))
    if head is None:
        raise SpeechError("render.tts.failed", f"{path.name} is not an Ogg Opus file")
    rate = head.input_rate if 8000 <= head.input_rate <= 192000 else 48000
    pcm = await _run("opusdec", (decoder, "--quiet", "--rate", str(rate), str(path), "-"),
                     None, timeout_s)
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(max(head.channels, 1))
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(pcm)
    return out.getvalue()


def _start_of(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(4096)


async def _run(name: str, command: tuple[str, ...], stdin: bytes | None,
               timeout_s: float) -> bytes:
    """Run one tool and return its standard output; a failure is a ``SpeechError``."""
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE if stdin is not None else
        asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await process.communicate(stdin)
    except TimeoutError as exc:
        await _reap(process)
        raise SpeechError("render.tts.failed", f"{name} took longer than {timeout_s:g} s"
                          ) from exc
    except asyncio.CancelledError:
        # shutdown while speaking: kill the child and close its pipes before going
        await asyncio.shield(_reap(process))
        raise
    if process.returncode != 0:
        raise SpeechError("render.tts.failed", f"{name} exited {process.returncode}: "
                          f"{err.decode(errors='replace').strip()[:200]}")
    return out


async def _reap(process: asyncio.subprocess.Process) -> None:
    """Kill a child and wait for it, so its pipes are closed rather than leaked."""
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await process.communicate()
