"""What a phone shows of the SMS the sandbox SMSC received: decoded, parts joined.

Stage: mock network element (pure). Decoded independently of the SMS adapter's
encoder: the user data header is read as TS 23.040 §9.2.3.24 defines it
(concatenation with an 8-bit or a 16-bit reference), GSM 7-bit text as the unpacked
septets SMPP carries for ``data_coding`` 0 (the ``gsm0338`` codec, the table of
TS 23.038), UCS-2 as UTF-16 big-endian for ``data_coding`` 8. A part that cannot be
read shows its hex, never an exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

UDHI = 0x40
_CONCAT_8, _CONCAT_16 = 0x00, 0x08


def read_part(short_message: bytes, esm_class: int, data_coding: int) -> dict[str, Any]:
    """One submit_sm's text and, when concatenated, its reference, part and total."""
    body, concat = short_message, None
    if esm_class & UDHI and body:
        header_length = body[0]
        header, body = body[1:1 + header_length], body[1 + header_length:]
        concat = _concatenation(header)
    alphabet = {0x00: "GSM-7", 0x08: "UCS-2"}.get(data_coding, f"data_coding {data_coding}")
    try:
        if data_coding == 0x00:
            text = body.decode("gsm03.38")
        elif data_coding == 0x08:
            text = body.decode("utf-16-be")
        else:
            text = body.decode("latin-1")
    except (UnicodeDecodeError, ValueError):
        text = body.hex()
        alphabet += " (undecodable)"
    part: dict[str, Any] = {"text": text, "alphabet": alphabet}
    if concat is not None:
        part.update(concat)
    return part


def _concatenation(header: bytes) -> dict[str, int] | None:
    position = 0
    while position + 2 <= len(header):
        kind, length = header[position], header[position + 1]
        value = header[position + 2:position + 2 + length]
        if kind == _CONCAT_8 and length == 3:
            return {"reference": value[0], "total": value[1], "part": value[2]}
        if kind == _CONCAT_16 and length == 4:
            return {"reference": value[0] << 8 | value[1], "total": value[2],
                    "part": value[3]}
        position += 2 + length
    return None


def phone_messages(received: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The messages each phone shows: single parts as they are, concatenated ones
    joined in part order once per (phone, reference); ``complete`` says whether every
    part arrived (a phone waits for the rest)."""
    messages: list[dict[str, Any]] = []
    groups: dict[tuple[str, int, int], dict[str, Any]] = {}
    for item in received:
        part = item["decoded"]
        if "reference" not in part:
            messages.append({"destination_addr": item["destination_addr"],
                             "source_addr": item["source_addr"], "text": part["text"],
                             "alphabet": part["alphabet"], "parts": 1, "complete": True})
            continue
        key = (item["destination_addr"], part["reference"], part["total"])
        group = groups.get(key)
        if group is None:
            group = {"destination_addr": item["destination_addr"],
                     "source_addr": item["source_addr"], "alphabet": part["alphabet"],
                     "parts": part["total"], "_texts": {}}
            groups[key] = group
            messages.append(group)
        group["_texts"].setdefault(part["part"], part["text"])
    for group in groups.values():
        texts = group.pop("_texts")
        group["complete"] = len(texts) == group["parts"]
        group["text"] = "".join(texts[number] for number in sorted(texts))
    return messages
