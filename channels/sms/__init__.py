"""SMS over SMPP 3.4: GSM 03.38 / UCS-2 encoding and concatenation, an ESME with several
binds, and a fan-out to subscribers (``channels.sms.adapter``)."""

from channels.sms.adapter import SmsChannel, SmsConfig

__all__ = ["SmsChannel", "SmsConfig"]
