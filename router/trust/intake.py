"""Parse, verify the signature, validate: one alert from bytes to a checked model.

Stage: trust (called by ``router.ingest`` and ``tocsin validate``). The signature
is checked between the hardened parse and validation so that, when the alert is
signed, validation and the model see only the tree the verifier returned — what
the signature covers — never the document as received. An unsigned alert, or
one whose signature failed, is validated as received (its verdict says so).

How the verdict becomes a finding depends on the profile's ``signature:``:

==============  ==========  ===========  ==============
state           required    if-present   ignore
==============  ==========  ===========  ==============
``verified``    —           —            —
``unsigned``    error       —            —
``untrusted``   error       error        warning
``invalid``     error       error        error
==============  ==========  ===========  ==============
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from router.cap import Finding, ParseOutcome, XmlLimits
from router.cap.findings import error, warning
from router.cap.xmlsafe import parse_xml
from router.profiles import ProfileSet, SignatureMode
from router.trust.verdict import SignatureState, SignatureVerdict
from router.trust.verify import SignatureChecker


@dataclass(frozen=True)
class CheckedAlert:
    outcome: ParseOutcome
    signature: SignatureVerdict | None
    """None when the bytes were not readable XML (nothing to verify)."""


def _finding(verdict: SignatureVerdict, mode: SignatureMode) -> Finding | None:
    if verdict.state is SignatureState.UNSIGNED:
        return (error("signature.missing", "/alert/Signature",
                      "the profile requires an XML-DSig signature and the alert has none")
                if mode == "required" else None)
    if verdict.problem is None:
        return None
    make = warning if verdict.state is SignatureState.UNTRUSTED and mode == "ignore" else error
    return make(verdict.problem.code, verdict.problem.location, verdict.problem.message)


def read_alert(data: bytes, profiles: ProfileSet, profile: str, checker: SignatureChecker,
               limits: XmlLimits | None = None) -> CheckedAlert:
    """The checked alert; never raises but ``KeyError`` for an unknown profile."""
    chosen = profiles.get(profile)
    root, problem = parse_xml(data, limits)
    if root is None:
        return CheckedAlert(ParseOutcome(None, [problem] if problem else [], readable=False),
                            None)
    verdict = checker.check(data, root, chosen.signature_legacy)
    tree = verdict.signed_tree if verdict.signed_tree is not None else root
    outcome = profiles.validate_tree(tree, profile,
                                     signed=verdict.state is not SignatureState.UNSIGNED)
    finding = _finding(verdict, chosen.signature)
    if finding is not None and outcome.readable:
        outcome = replace(outcome, findings=[*outcome.findings, finding])
    return CheckedAlert(outcome, replace(verdict, signed_tree=None))
