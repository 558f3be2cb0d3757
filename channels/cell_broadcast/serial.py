"""The CBS serial number: geographical scope | message code | update number.

Stage: a leaf of the cell broadcast adapter. Layout (3GPP TS 23.041 §9.4.1.2.1,
most significant bit first): GS 2 bits, message code 10 bits, update number
4 bits. Handsets drop a message whose identifier and serial number they have
already shown, so an Update keeps GS and code and increments the update number
modulo 16, and an unrelated alert gets another code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class GeoScope(IntEnum):
    CELL_WIDE_IMMEDIATE = 0
    PLMN_WIDE = 1
    AREA_WIDE = 2  # location / service / tracking area wide
    CELL_WIDE = 3

    @property
    def ecbe_name(self) -> str:
        """The name osmo-cbc's ECBE API uses in ``serial_nr_decoded.geo_scope``."""
        return _ECBE_NAMES[self]

    @classmethod
    def from_ecbe(cls, name: str) -> GeoScope:
        return next(scope for scope, text in _ECBE_NAMES.items() if text == name)


_ECBE_NAMES = {GeoScope.CELL_WIDE_IMMEDIATE: "cell_wide_immediate",
               GeoScope.PLMN_WIDE: "plmn_wide", GeoScope.AREA_WIDE: "lac_sac_tac_wide",
               GeoScope.CELL_WIDE: "cell_wide"}


@dataclass(frozen=True)
class SerialNumber:
    geo_scope: GeoScope
    message_code: int
    update_number: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.message_code < 1024:
            raise ValueError(f"message code {self.message_code} is not in 0..1023")
        if not 0 <= self.update_number < 16:
            raise ValueError(f"update number {self.update_number} is not in 0..15")

    def encode(self) -> int:
        return (int(self.geo_scope) << 14) | (self.message_code << 4) | self.update_number

    def to_bytes(self) -> bytes:
        return self.encode().to_bytes(2, "big")

    @classmethod
    def decode(cls, value: int) -> SerialNumber:
        if not 0 <= value < 1 << 16:
            raise ValueError(f"serial number {value} is not 16 bits")
        return cls(GeoScope(value >> 14), (value >> 4) & 0x3FF, value & 0xF)

    def next_update(self) -> SerialNumber:
        """The serial of the next version of this message (update number + 1 mod 16)."""
        return SerialNumber(self.geo_scope, self.message_code, (self.update_number + 1) % 16)

    def as_ecbe(self) -> dict[str, object]:
        return {"serial_nr_decoded": {"geo_scope": self.geo_scope.ecbe_name,
                                      "msg_code": self.message_code,
                                      "update_nr": self.update_number}}

    def as_detail(self) -> dict[str, int]:
        return {"geo_scope": int(self.geo_scope), "message_code": self.message_code,
                "update_number": self.update_number, "encoded": self.encode()}

    @classmethod
    def from_detail(cls, detail: object) -> SerialNumber:
        if not isinstance(detail, dict):
            raise TypeError(f"not a serial number record: {detail!r}")
        return cls(GeoScope(int(detail["geo_scope"])), int(detail["message_code"]),
                   int(detail["update_number"]))
