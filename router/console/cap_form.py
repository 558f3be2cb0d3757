"""The compose form -> a CAP 1.2 document (an Alert, or an Update of a stored alert); an
alert's CAP -> its Cancel.

Why the console builds XML with lxml rather than string formatting: every field is an
operator's free text, and an element tree escapes it, so ``<script>`` in a headline
stays text. Nothing here decides validity: the document goes to the API, whose validator
and profile answer with findings, exactly as for any other client.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from lxml import etree

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
LANGUAGES = ("nl-NL", "en-GB")  # the two text blocks the form offers
TEXT_FIELDS = ("event", "headline", "description", "instruction")


class FormError(ValueError):
    """The form is not shaped like the compose form (a field missing or not text)."""


def _text(form: dict[str, Any], name: str, default: str | None = None) -> str:
    value = form.get(name, default)
    if not isinstance(value, str):
        raise FormError(f"field {name!r} must be text")
    return value.strip()


def _sub(parent: etree._Element, tag: str, text: str) -> None:
    etree.SubElement(parent, f"{{{CAP_NS}}}{tag}").text = text


def _now() -> str:
    """UTC written as CAP 1.2 wants it (``-00:00``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S-00:00")


def _key(original: bytes) -> str:
    """The CAP key of ``original`` as ``<references>`` writes it: sender,identifier,sent."""
    parsed = etree.fromstring(original, parser=etree.XMLParser(resolve_entities=False,
                                                               no_network=True))
    ns = etree.QName(parsed).namespace or CAP_NS
    return ",".join((parsed.findtext(f"{{{ns}}}{tag}") or "").strip()
                    for tag in ("sender", "identifier", "sent"))


def alert_from_form(form: dict[str, Any], updates: bytes | None = None) -> bytes:
    """One <info> per language whose headline is filled in; the area is repeated in each
    (CAP puts areas inside infos). Empty optional fields are left out, so the validator
    reports what a required field lacks instead of an empty element.

    With ``updates`` (the stored CAP of the alert the operator is updating) the document
    is an ``Update`` whose ``<references>`` names that alert: the form holds the whole
    new text, as CAP wants an Update to be complete, not a difference."""
    root = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})  # type: ignore[dict-item]
    _sub(root, "identifier", f"console-{uuid.uuid4()}")
    _sub(root, "sender", _text(form, "sender"))
    _sub(root, "sent", _now())
    _sub(root, "status", _text(form, "status", "Actual"))
    _sub(root, "msgType", "Alert" if updates is None else "Update")
    _sub(root, "scope", "Public")
    if updates is not None:
        _sub(root, "references", _key(updates))
    for language in LANGUAGES:
        texts = {field: _text(form, f"{field}_{language}", "") for field in TEXT_FIELDS}
        if not texts["headline"]:
            continue
        info = etree.SubElement(root, f"{{{CAP_NS}}}info")
        _sub(info, "language", language)
        _sub(info, "category", _text(form, "category", "Safety"))
        _sub(info, "event", texts["event"] or _text(form, "event", ""))
        for tag in ("urgency", "severity", "certainty"):
            _sub(info, tag, _text(form, tag))
        sender_name = _text(form, "sender_name", "")
        if sender_name:
            _sub(info, "senderName", sender_name)
        _sub(info, "headline", texts["headline"])
        for tag in ("description", "instruction"):
            if texts[tag]:
                _sub(info, tag, texts[tag])
        area = etree.SubElement(info, f"{{{CAP_NS}}}area")
        _sub(area, "areaDesc", _text(form, "area_desc"))
        polygon = _text(form, "polygon", "")
        if polygon:
            _sub(area, "polygon", " ".join(polygon.split()))
        circle = _text(form, "circle", "")
        if circle:  # CAP: "lat,lon radius_km"; the validator checks the numbers
            _sub(area, "circle", " ".join(circle.split()))
        for value_name, value in geocodes(_text(form, "geocodes", "")):
            geocode = etree.SubElement(area, f"{{{CAP_NS}}}geocode")
            _sub(geocode, "valueName", value_name)
            _sub(geocode, "value", value)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def geocodes(text: str) -> list[tuple[str, str]]:
    """The form's geocodes, one ``valueName=value`` a line (``CBS=GM0599``, ``SAME=006113``).
    A line without ``=`` is refused here, naming the line: the validator would only see
    an empty pair and could not say which line the operator meant."""
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        value_name, equals, value = line.partition("=")
        if not equals or not value_name.strip() or not value.strip():
            raise FormError(f"geocode line {number} ({line.strip()!r}): write valueName=value, "
                            "for example CBS=GM0599")
        pairs.append((value_name.strip(), value.strip()))
    return pairs


def cancel_of(original: bytes) -> bytes:
    """A Cancel of ``original``: same sender, ``references`` naming it, its infos kept
    (so the channels can say in every language what is withdrawn)."""
    parsed = etree.fromstring(original, parser=etree.XMLParser(resolve_entities=False,
                                                               no_network=True))

    def field(tag: str) -> str:
        found = parsed.find(f"{{{CAP_NS}}}{tag}")
        return (found.text or "").strip() if found is not None else ""

    root = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})  # type: ignore[dict-item]
    _sub(root, "identifier", f"console-{uuid.uuid4()}")
    _sub(root, "sender", field("sender"))
    _sub(root, "sent", _now())
    _sub(root, "status", field("status"))
    _sub(root, "msgType", "Cancel")
    _sub(root, "scope", field("scope") or "Public")
    _sub(root, "references", f"{field('sender')},{field('identifier')},{field('sent')}")
    for info in parsed.findall(f"{{{CAP_NS}}}info"):
        root.append(info)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
