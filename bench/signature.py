"""XML-DSig verification cost, as a ratio to the unsigned path measured in the same run.

The medium alert (tests/fixtures/cap/medium.xml, ~5 KB, nl-NL + en-GB, 50-point
polygons), signed at start-up with a freshly generated test CA and leaf (enveloped,
exclusive c14n, RSA-2048-SHA256; ECDSA P-256-SHA256 reported too), times:

- ``unsigned``  Tocsin's ingest check of the unsigned alert: hardened parse, XSD,
                model, spec rules and the ``nl-alert`` profile (``router.trust.read_alert``;
                for an unsigned alert the signature step only looks for ``<Signature>``);
- ``signed``    the same for the signed alert against a trust store holding the test
                CA: parse, shape checks, signxml verification (c14n, digest, public-key
                check), path validation at ``<sent>``, then validation of the verified tree;
- ``verify``    the signature step alone (``SignatureChecker.check``);
- ``new signer`` the signed path with the certificate cache emptied before each call
                (a signer seen for the first time; the metric uses the steady case of
                an authority signing with the certificate it signed with before).

Metric: what verification adds, ``(signed - unsigned) / unsigned``; target <= 1.5
(issue "Authenticated, authorised, approved"). Candidates are interleaved round by
round and each figure is the median of the rounds. Prints PASS/MISS and ends with one
JSON line; exits 0 either way (a miss is reported, not hidden).

Run: ``.venv/bin/python bench/signature.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from verdicts import figure, verdict  # noqa: E402  (sibling module, bench/ on sys.path)

from router.cap.xmlsafe import parse_xml  # noqa: E402
from router.profiles import load_profiles  # noqa: E402
from router.trust import SignatureChecker, load_trust_store, read_alert  # noqa: E402
from router.trust.chain import _load as cached_certificate  # noqa: E402
from tests.signing import NOW, make_ca, make_leaf, sign  # noqa: E402

TARGET = 1.5
PROFILE = "nl-alert"


def per_call(fn: Callable[[], Any], loops: int) -> float:
    start = time.perf_counter()
    for _ in range(loops):
        fn()
    return (time.perf_counter() - start) / loops


def measure(candidates: dict[str, Callable[[], Any]], rounds: int, budget: float
            ) -> dict[str, float]:
    loops = {name: max(1, int(budget / max(per_call(fn, 3), 1e-7)))
             for name, fn in candidates.items()}
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            samples[name].append(per_call(fn, loops[name]))
    return {name: statistics.median(values) for name, values in samples.items()}


def _medium_now() -> bytes:
    """The medium fixture with <sent> an hour ago, so the leaf is valid at <sent>."""
    data = (REPO / "tests" / "fixtures" / "cap" / "medium.xml").read_text(encoding="utf-8")
    sent = (NOW.replace(minute=0, second=0)).isoformat(timespec="seconds")
    return data.replace("<sent>2026-11-25T10:00:00+01:00</sent>", f"<sent>{sent}</sent>").encode()


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--quick", action="store_true", help="few short rounds (smoke test)")
    rounds, budget = (3, 0.01) if args.parse_args().quick else (9, 0.25)

    from datetime import timedelta  # noqa: PLC0415
    ca = make_ca("Bench Root")
    rsa_leaf = make_leaf(ca, "bench-rsa", NOW - timedelta(days=1), NOW + timedelta(days=30))
    ec_leaf = make_leaf(ca, "bench-ec", NOW - timedelta(days=1), NOW + timedelta(days=30), "ec")
    unsigned = _medium_now()
    signed_rsa = sign(unsigned, rsa_leaf)
    signed_ec = sign(unsigned, ec_leaf, algorithm="ecdsa-sha256")
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "ca.pem").write_bytes(ca.pem)
        checker = SignatureChecker(load_trust_store(Path(directory)))
    profiles = load_profiles()
    for name, data in (("unsigned", unsigned), ("rsa", signed_rsa), ("ecdsa", signed_ec)):
        checked = read_alert(data, profiles, PROFILE, checker)
        assert checked.outcome.ok, (name, checked.outcome.findings)
        assert checked.signature is not None
        expected = "unsigned" if name == "unsigned" else "verified"
        assert checked.signature.state == expected, (name, checked.signature.problem)
    root_rsa, _ = parse_xml(signed_rsa)
    assert root_rsa is not None

    times = measure({
        "unsigned": lambda: read_alert(unsigned, profiles, PROFILE, checker),
        "signed (RSA-SHA256)": lambda: read_alert(signed_rsa, profiles, PROFILE, checker),
        "signed (ECDSA-SHA256)": lambda: read_alert(signed_ec, profiles, PROFILE, checker),
        "verify only (RSA)": lambda: checker.check(signed_rsa, root_rsa),
        "signed, new signer (RSA)": lambda: (cached_certificate.cache_clear(),
                                             read_alert(signed_rsa, profiles, PROFILE, checker)),
    }, rounds, budget)
    base = times["unsigned"]
    print(f"medium alert, {len(unsigned)} bytes unsigned / {len(signed_rsa)} signed; "
          f"profile {PROFILE}; {rounds} rounds, median; ratios measured in this run")
    for name, seconds in times.items():
        print(f"  {name:24} {seconds * 1e6:9.0f} us   {seconds / base:5.2f} x unsigned")
    added = (times["signed (RSA-SHA256)"] - base) / base
    added_ec = (times["signed (ECDSA-SHA256)"] - base) / base
    print(f"verification adds {added:.2f} x the unsigned cost (RSA; ECDSA {added_ec:.2f} x); "
          f"target <= {TARGET} x: {'PASS' if added <= TARGET else 'MISS'}")
    figure("signature", "verification_added_over_unsigned_ecdsa", added_ec)
    verdict("signature", "verification_added_over_unsigned", added, f"<= {TARGET:g}",
            added <= TARGET)
    return 0


if __name__ == "__main__":
    sys.exit(main())
