"""Foreign-namespace elements anywhere in a CAP alert: refused with their own finding,
located, and never an exception (the XSD error path is evaluated as an XPath with
the document's own prefixes)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from router.cap import parse_cap
from router.cap.model import CAP12_NAMESPACE, XMLDSIG_NAMESPACE
from router.cap.schema import MAX_SCHEMA_FINDINGS

SMALL = (Path(__file__).resolve().parents[1] / "fixtures" / "cap" / "small.xml").read_bytes()
NS = "{" + CAP12_NAMESPACE + "}"
CONTAINERS = ("alert", "info", "area")
"""The CAP elements with element content (the others hold text only)."""

_NAME = st.from_regex(r"\A[a-wyz][a-z0-9]{0,8}\Z")  # never starting "xml" (reserved)
_URI = st.builds("urn:example:{}".format, st.from_regex(r"\A[a-z][a-z0-9.-]{0,20}\Z"))


@settings(max_examples=150, derandomize=True, deadline=None)
@given(container=st.sampled_from(CONTAINERS), which=st.integers(0, 5),
       position=st.integers(0, 30), prefix=st.one_of(st.none(), _NAME), local=_NAME,
       uri=_URI | st.sampled_from([XMLDSIG_NAMESPACE + "x", "http://www.w3.org/1999/xhtml"]))
def test_a_foreign_element_anywhere_is_a_located_finding(
        container: str, which: int, position: int, prefix: str | None, local: str,
        uri: str) -> None:
    root = etree.fromstring(SMALL)
    candidates = [root] if container == "alert" else list(root.iter(NS + container))
    parent = candidates[which % len(candidates)]
    foreign = etree.Element(f"{{{uri}}}{local}", nsmap={prefix: uri})
    foreign.text = "extra"
    parent.insert(position % (len(parent) + 1), foreign)
    outcome = parse_cap(etree.tostring(root))
    assert not outcome.ok
    found = [f for f in outcome.findings if f.code == "cap.foreign-element"]
    assert len(found) == 1, outcome.findings
    assert found[0].location.endswith("/" + local), found[0]
    assert uri in found[0].message


def test_an_xml_signature_inside_info_is_foreign_there() -> None:
    """The XSD admits the XML-DSig namespace only at the end of <alert>."""
    body = SMALL.replace(b"<category>", b'<ds:Signature xmlns:ds="%s"/><category>'
                         % XMLDSIG_NAMESPACE.encode(), 1)
    codes = [f.code for f in parse_cap(body).findings]
    assert codes == ["cap.foreign-element"]


def test_one_prefix_bound_to_two_namespaces_still_gives_a_location() -> None:
    body = SMALL.replace(b"<category>", b'<x:a xmlns:x="urn:one"/><category>', 1).replace(
        b"<language>en-GB</language>",
        b'<language>en-GB</language><x:b xmlns:x="urn:two"/>', 1)
    found = [f for f in parse_cap(body).findings if f.code == "cap.foreign-element"]
    assert len(found) == 2
    assert all(f.location.startswith("/alert/info") for f in found), found


def test_schema_errors_beyond_the_cap_are_counted_not_listed() -> None:
    attributes = b" ".join(b'a%d="x"' % n for n in range(500))
    body = SMALL.replace(b"<info>", b"<info " + attributes + b">", 1)
    findings = parse_cap(body).findings
    assert len(findings) == MAX_SCHEMA_FINDINGS + 1
    assert findings[-1].code == "xsd.more-errors"
    assert findings[-1].message.startswith(f"{500 - MAX_SCHEMA_FINDINGS} more schema errors")
