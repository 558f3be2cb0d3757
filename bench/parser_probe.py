"""Safety and completeness probes for the CAP parsers considered for Tocsin.

Feeds each parser (PyPI ``capparser``, PyPI ``cap-tools``, Tocsin's ``parse_cap``) the
same inputs and prints what happened: accepted silently, refused, or crashed.
The README's "CAP parser decision" quotes this output.

Run: ``.venv/bin/python bench/parser_probe.py``
"""

from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from router.cap import parse_cap

MEDIUM = (Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "cap" / "medium.xml"
          ).read_bytes()
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "' + b"x" * 1000 + b'">'
          + b"".join(b'<!ENTITY a%d "%s">' % (i, (b"&a;" if i == 0 else b"&a%d;" % (i - 1)) * 10)
                     for i in range(6))
          + b']><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><note>&a5;</note></alert>')


def replace(old: bytes, new: bytes) -> bytes:
    assert old in MEDIUM
    return MEDIUM.replace(old, new, 1)


PROBES: dict[str, bytes] = {
    "valid medium alert": MEDIUM,
    "two <category> in one <info>": replace(b"<category>Fire</category>",
                                            b"<category>Fire</category><category>Safety</category>"),
    "<urgency>Now</urgency>": replace(b"<urgency>Immediate</urgency>", b"<urgency>Now</urgency>"),
    "<sent> with Z": replace(b"<sent>2026-11-25T10:00:00+01:00</sent>",
                             b"<sent>2026-11-25T09:00:00Z</sent>"),
    "no <event> (required)": replace(b"<event>Grote brand</event>", b""),
    "unclosed polygon": replace(b"<polygon>51.", b"<polygon>1,1 51."),
    "wrong namespace": MEDIUM.replace(b"urn:oasis:names:tc:emergency:cap:1.2", b"urn:x"),
    "entity expansion (1e6 x 1000 B)": LAUGHS,
    "external entity file:///etc/passwd": (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><note>&x;</note></alert>'),
    "20 MiB body": MEDIUM.replace(b"<note>", b"").replace(
        b"</senderName>", b"</senderName><headline>" + b"x" * (20 << 20) + b"</headline>", 1),
}


def parsers() -> dict[str, Callable[[bytes], Any]]:
    found: dict[str, Callable[[bytes], Any]] = {}
    try:
        import capparser  # noqa: PLC0415

        found["capparser 2.0.4"] = lambda data: capparser.parse(stringXML=data.decode("utf-8"))
    except ImportError:
        pass
    try:
        from cap_tools.models import Alert as XsAlert  # noqa: PLC0415
        from xsdata.formats.dataclass.parsers import XmlParser  # noqa: PLC0415

        found["cap-tools"] = lambda data: XmlParser().from_bytes(data, XsAlert)
    except ImportError:
        pass

    def tocsin(data: bytes) -> Any:
        outcome = parse_cap(data)
        if outcome.ok:
            return outcome
        raise ValueError("refused: " + ", ".join(sorted({f.code for f in outcome.findings})))

    found["tocsin parse_cap"] = tocsin
    return found


def run(fn: Callable[[bytes], Any], data: bytes) -> str:
    tracemalloc.start()
    start = time.perf_counter()
    try:
        fn(data)
        verdict = "accepted"
    except ValueError as exc:
        verdict = str(exc)[:70] if str(exc).startswith("refused") else f"error: {exc}"[:70]
    except Exception as exc:
        verdict = f"{type(exc).__name__}: {exc}"[:70]
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return f"{verdict}  [{elapsed * 1e3:.0f} ms, peak {peak / 2**20:.1f} MiB]"


def main() -> None:
    """Each probe in a fresh interpreter, so one probe's damage cannot colour the next."""
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(run(parsers()[sys.argv[2]], PROBES[sys.argv[3]]))
        return
    for name in parsers():
        print(f"\n== {name}")
        for probe in PROBES:
            result = subprocess.run(
                [sys.executable, "-W", "ignore", __file__, "--one", name, probe],
                capture_output=True, text=True, check=False, timeout=120)
            print(f"  {probe:<36} {(result.stdout or result.stderr).strip()[-110:]}")
    print("\n== capparser 2.0.4, one process: the two-<category> alert, then the valid one")
    fn = parsers().get("capparser 2.0.4")
    if fn is not None:
        two = "two <category> in one <info>"
        print(f"  {two:<36} {run(fn, PROBES[two])}")
        print(f"  {'valid medium alert':<36} {run(fn, MEDIUM)}")


if __name__ == "__main__":
    main()
