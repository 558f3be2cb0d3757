"""Phone numbers are parsed once, at configuration load, and refused with their key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from channels.sms import SmsChannel
from channels.sms.numbers import InvalidNumberError, international_digits


def config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {"system_id": "tocsin", "password": "secret", "journal": str(tmp_path / "j.jsonl"),
            **extra}


@pytest.mark.parametrize(("written", "region", "digits"), [
    ("+31 6 1234 5678", None, "31612345678"),
    ("+31-6-12345678", None, "31612345678"),
    ("0031612345678", "NL", "31612345678"),
    ("06 1234 5678", "NL", "31612345678"),
    ("+44 7911 123456", "NL", "447911123456"),
    ("+1 650 253 0000", None, "16502530000"),
])
def test_numbers_become_e164_digits(written: str, region: str | None, digits: str) -> None:
    assert international_digits(written, region) == digits


@pytest.mark.parametrize(("written", "region", "why"), [
    ("06 1234 5678", None, "no default_region"),
    ("0031612345678", None, "no default_region"),
    ("+31690000001", None, "not a valid number"),  # unallocated Dutch range
    ("+31 6 12", None, "not a valid number"),
    ("twelve", "NL", "not a phone number"),
])
def test_invalid_or_countryless_numbers_are_refused(written: str, region: str | None,
                                                    why: str) -> None:
    with pytest.raises(InvalidNumberError, match=why) as raised:
        international_digits(written, region)
    assert written not in str(raised.value)


def test_the_channel_config_normalises_its_recipients_once(tmp_path: Path) -> None:
    channel = SmsChannel("sms", config(tmp_path, default_region="NL", recipients=[
        "+31 6 1234 5678", "06 1111 2222", "0031612345678"]))
    assert channel.config.recipients == ["31612345678", "31611112222"]


def test_the_channel_config_names_every_invalid_recipient_by_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="recipients") as raised:
        SmsChannel("sms", config(tmp_path, password="s3cret", recipients=[
            "+31 6 1234 5678", "+31690000001", "06 1111 2222"]))
    message = str(raised.value)
    assert "recipients[1]: not a valid number" in message
    assert "recipients[2]: no country code" in message
    assert "recipients[0]" not in message
    assert not any(secret in message for secret in ("1234", "3169", "1111", "s3cret"))


def test_an_unknown_default_region_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ISO 3166-1 alpha-2"):
        SmsChannel("sms", config(tmp_path, default_region="XX", recipients=["+31612345678"]))
