"""The mock network elements show what a person would see: the SMSC's messages as the
phone's text (it showed raw hex), concatenated parts joined; the CBC's display per
phone language (primary-language identifiers for every phone, additional-language
ones for phones in that language)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.cell_broadcast.coding import choose_coding
from channels.cell_broadcast.pages import encode
from channels.mock.cbc import create_cbc
from channels.mock.sms_display import phone_messages, read_part
from channels.sms.encoding import split

GSM_TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ 0123456789.,!?@£$éüÄ€[]{}^~|\\\n",
                   max_size=500)
ANY_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xD7FF),
                   max_size=300)


@settings(max_examples=150, deadline=None)
@given(st.one_of(GSM_TEXT, ANY_TEXT), st.integers(0, 255))
def test_what_the_phone_shows_is_the_text_sent(text: str, reference: int) -> None:
    """The SMS adapter's parts, read back by the mock's own decoder and joined as a
    phone joins them, are the text the adapter was given."""
    parts = split(text, reference).parts
    received = [{"destination_addr": "31612345678", "source_addr": "NL-Alert",
                 "decoded": read_part(p.short_message, p.esm_class, p.data_coding)}
                for p in parts]
    (message,) = phone_messages(received)
    assert message["text"] == text
    assert message["complete"]
    assert message["parts"] == len(parts)
    assert message["alphabet"] in ("GSM-7", "UCS-2")


def test_a_missing_part_is_shown_incomplete() -> None:
    parts = split("x" * 400, 7).parts
    received = [{"destination_addr": "31600000000", "source_addr": "NL-Alert",
                 "decoded": read_part(p.short_message, p.esm_class, p.data_coding)}
                for p in parts[:-1]]
    (message,) = phone_messages(received)
    assert message["complete"] is False
    assert message["parts"] == len(parts)


def _write(message_id: int, text: str, language: str) -> dict[str, Any]:
    coded = encode(text, choose_coding(language, text))
    return {"cbe_name": "tocsin", "category": "high_priority", "repetition_period": 30,
            "num_of_bcast": 0, "scope": {"scope_plmn": {}},
            "smscb_message": {
                "message_id": message_id,
                "serial_nr": {"serial_nr_decoded": {"geo_scope": "plmn_wide",
                                                    "msg_code": 5, "update_nr": 0}},
                "payload": {"payload_encoded": {"dcs": coded.coding.dcs,
                                                "pages": [p.hex() for p in coded.pages]}}}}


async def test_the_cbc_shows_each_phone_language_its_messages() -> None:
    async with TestClient(TestServer(create_cbc())) as client:
        for message_id, text, language in ((4370, "Grote brand in Rotterdam", "nl"),
                                           (4383, "Major fire in Rotterdam", "en")):
            answer = await client.post("/api/ecbe/v1/message",
                                       json=_write(message_id, text, language))
            assert answer.status in (200, 201), await answer.text()
        shown = await (await client.get("/_mock/phones")).json()
        assert set(shown) == {"nl", "en"}
        assert [m["text"] for m in shown["nl"]] == ["Grote brand in Rotterdam"]
        assert [m["text"] for m in shown["en"]] == ["Grote brand in Rotterdam",
                                                    "Major fire in Rotterdam"]
        chosen = await (await client.get("/_mock/phones?language=fr")).json()
        assert [m["message_id"] for m in chosen["fr"]] == [4370]
