"""Phone numbers for SMPP: parsed and normalised once, when the configuration loads.

Stage: channel adapter (pure; imports only ``phonenumbers``).

Every number leaves Tocsin in one form: the E.164 digits without the ``+``
(``31612345678``), with destination TON 1 (international) and NPI 1 (ISDN/E.164).
SMPP 3.4 (§5.2.5, ``destination_addr``) carries the address digits and lets TON/NPI
say how to read them; a ``+`` is not a digit and SMSCs treat it inconsistently, so
it is never sent. Parsing is ``phonenumbers`` (Google's libphonenumber metadata):
a number is accepted only when it is a *valid* number of its country's plan.

A number written without a country code (``06 1234 5678``) is read in the
``default_region`` the deployment configured (ISO 3166-1 alpha-2, e.g. ``NL``);
without one it is refused -- Tocsin never guesses a country. Bare digits without
``+`` or the region's international prefix are national digits, as a person
dialling them in that region would mean.
"""

from __future__ import annotations

from typing import Final

import phonenumbers

DEST_TON: Final = 1
"""International: the address is the E.164 number (country code first)."""
DEST_NPI: Final = 1
"""ISDN / telephone numbering plan (E.164)."""


_PARSE_ERRORS: Final = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}


def check_region(region: str) -> str:
    """``region`` upper-cased when libphonenumber knows it (ISO 3166-1 alpha-2)."""
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"default_region {region!r} is not an ISO 3166-1 alpha-2 region "
                         "libphonenumber knows")
    return code


class InvalidNumberError(ValueError):
    """Not a valid phone number; the message never repeats the number (personal data)."""


def international_digits(text: str, default_region: str | None) -> str:
    """``text`` as E.164 digits without ``+``; ``InvalidNumberError`` saying why not."""
    written = text.strip()
    if not written.startswith("+") and default_region is None:
        raise InvalidNumberError("no country code, and no default_region is configured to read "
                            "national numbers in")
    try:
        number = phonenumbers.parse(written, default_region)
    except phonenumbers.NumberParseException as exc:
        why = _PARSE_ERRORS.get(exc.error_type, "unreadable")
        raise InvalidNumberError(f"not a phone number ({why})") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidNumberError("not a valid number in its country's numbering plan")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


def is_international_digits(address: str) -> bool:
    """Whether ``address`` already has the one form Tocsin sends (1-15 digits)."""
    return address.isascii() and address.isdigit() and 1 <= len(address) <= 15
