"""Hostile and broken inputs: each gives its own finding code, none raises.

Every case goes through ``parse_cap``, the entry point the HTTP API and the CLI
use, and checks both the specific code and that the document is unreadable
(HTTP 400 / exit 2) rather than merely invalid.
"""

from __future__ import annotations

import pytest

from router.cap import XmlLimits, parse_cap
from router.cap.xmlsafe import parse_xml

CAP_OPEN = b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol9;</identifier></alert>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><note>&xxe;</note></alert>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE alert SYSTEM "http://127.0.0.1:9/evil.dtd">
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier></alert>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>"""

UNDECLARED_ENTITY = CAP_OPEN + b"<identifier>&nope;</identifier></alert>"

DEEP = b"<a>" * 10_000 + b"</a>" * 10_000

CASES = {
    "billion-laughs": (BILLION_LAUGHS, "xml.dtd-forbidden"),
    "external-entity-file": (XXE, "xml.dtd-forbidden"),
    "external-dtd": (EXTERNAL_DTD, "xml.dtd-forbidden"),
    "parameter-entity": (PARAMETER_ENTITY, "xml.dtd-forbidden"),
    "undeclared-entity": (UNDECLARED_ENTITY, "xml.dtd-forbidden"),
    "50-MiB": (CAP_OPEN + b" " * (50 << 20) + b"</alert>", "xml.too-large"),
    "10000-deep": (DEEP, "xml.too-deep"),
    "invalid-utf8": (CAP_OPEN + b"<note>\xff\xfe\xc3</note></alert>", "xml.encoding"),
    "latin1-declared-utf8": (
        b'<?xml version="1.0" encoding="UTF-8"?>' + CAP_OPEN + b"<note>caf\xe9</note></alert>",
        "xml.encoding",
    ),
    "utf16-bom": ("<alert/>".encode("utf-16"), "xml.encoding"),
    "unknown-encoding-name": (
        b'<?xml version="1.0" encoding="x-no-such"?><alert/>',
        "xml.encoding",
    ),
    "wrong-namespace": (
        b'<alert xmlns="urn:example:not-cap"><identifier>x</identifier></alert>',
        "cap.namespace",
    ),
    "no-namespace": (b"<alert><identifier>x</identifier></alert>", "cap.namespace"),
    "empty": (b"", "xml.empty"),
    "whitespace-only": (b" \n\t ", "xml.empty"),
    "truncated": (CAP_OPEN + b"<identifier>x</ident", "xml.malformed"),
    "not-xml": (b'{"identifier": "x"}', "xml.malformed"),
    "atom-feed": (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry/></feed>',
        "cap.feed",
    ),
    "60000-attributes": (
        CAP_OPEN.replace(b">", b" " + b" ".join(b'a%d="x"' % n for n in range(60_000)) + b">")
        + b"</alert>",
        "xml.too-many-attributes",
    ),
    "30000-elements": (CAP_OPEN + b"<note/>" * 30_000 + b"</alert>", "xml.too-many-elements"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_gives_specific_finding(name: str) -> None:
    data, code = CASES[name]
    outcome = parse_cap(data)
    assert outcome.document is None
    assert not outcome.readable
    assert [f.code for f in outcome.findings] == [code], outcome.findings
    assert all(f.message for f in outcome.findings)


def test_size_limit_is_configurable() -> None:
    body = CAP_OPEN + b" " * 2000 + b"</alert>"
    assert parse_cap(body, XmlLimits(max_bytes=1000)).findings[0].code == "xml.too-large"
    assert parse_cap(body, XmlLimits(max_bytes=4000)).findings[0].code != "xml.too-large"


def test_entity_text_never_reaches_the_model() -> None:
    """Even if a scan were bypassed, /etc/passwd content must not appear anywhere."""
    outcome = parse_cap(XXE)
    assert "root:" not in repr(outcome)


def test_comments_and_processing_instructions_are_dropped() -> None:

    root, problem = parse_xml(
        b'<?xml-stylesheet href="http://127.0.0.1:9/x.xsl"?>' + CAP_OPEN + b"<!-- c --></alert>"
    )
    assert problem is None
    assert root is not None
    assert len(root) == 0


def test_element_and_attribute_limits_are_configurable() -> None:
    body = CAP_OPEN + b'<note a="1" b="2"/>' * 10 + b"</alert>"
    assert parse_xml(body, XmlLimits(max_elements=10))[1] is not None
    assert parse_xml(body, XmlLimits(max_elements=11))[1] is None
    assert parse_xml(body, XmlLimits(max_attributes=19))[1] is not None
    assert parse_xml(body, XmlLimits(max_attributes=20))[1] is None
    # a document with many '=' in its text but few attributes is not refused
    text = CAP_OPEN + b"<note>" + b"a=b " * 5000 + b"</note></alert>"
    assert parse_xml(text)[1] is None
