"""``sms`` channel: one SMS per subscriber in the alert's area, over SMPP 3.4.

Stage: channel adapter (imports only the contract and its own package).

For each delivery the dispatcher attaches the ``Audience`` (``recipients="msisdn"``):
subscribers whose home area the alert reaches, plus -- for an Update -- everyone
the earlier alert reached. The text per language comes from the rendered variants
fitted to ``max_parts`` parts (``PartsBudget``); a subscriber gets the language
they chose when the alert has it, else the alert's first language. Text that does
not fit even in its shortest form fails the delivery (``too_long``), before any
message goes out.

Outcomes: the send returns once every recipient has an outcome; the Receipt's
``detail["metrics"]`` carries ``sms_recipients_sent`` (accepted by the SMSC),
``_delivered``, ``_failed`` and ``_expired`` as known at that moment, and receipts
arriving later keep updating the delivery's counts in the store (the status API
shows them). Receipts for the recipients of Tocsin's audiences are matched through
the store's ``MessageLedger`` (``channels.sms.late``), so they are matched after a
restart too; the fixed ``recipients`` list's receipts are matched in memory.
The send fails *transiently* when no bind comes up or some
recipients are still unsent (the retry offers only those), *permanently* when the
SMSC refused every message.

A Cancel cannot recall an SMS: it stops the original's fan-out (the audience ends
when its alert is cancelled) and sends the Cancel's own text to everyone the
original reached, each in their language: its ``<info>``s, else its ``<note>``, else
the template library's notice (``notices.Cancel``) -- ``cancel_text`` only when the
delivery carries no rendered variants at all.

Configuration (``channels.<name>``): ``host`` (127.0.0.1), ``port`` (2775),
``system_id``, ``password`` or ``password_env``, ``system_type`` (""), ``binds``
(1), ``window`` (10), ``rate_per_bind`` (0 = unlimited, submit_sm/s), ``max_parts``
(4), ``batch_size`` (500), ``source_addr`` ("Tocsin"), ``source_ton`` (5),
``source_npi`` (0), ``validity_period`` ("" = SMSC default), ``bind_wait_s`` (10),
``connect_timeout_s`` (5, TCP connect plus bind answer), ``backoff_initial_s`` (0.05),
``backoff_max_s`` (5),
``receipt_wait_s`` (0: do not wait for receipts before returning), ``cancel_text``,
``recipients`` (a fixed list of numbers used when a delivery has no audience),
``journal`` (the outcomes file for that list; required with ``recipients``) and
``default_region`` (ISO 3166-1 alpha-2; how ``recipients`` written without a country
code are read -- without it they are refused).

Every number in ``recipients`` is parsed and validated when the configuration loads
(``channels.sms.numbers``), an invalid one stopping the channel with its key
(``recipients[2]``), never its digits; all are sent in one form: E.164 digits
without ``+``, TON 1, NPI 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from channels.sms.budget import PartsBudget
from channels.sms.encoding import (
    MAX_PARTS,
    Coding,
    Part,
    Split,
    decode_part,
    part_count,
    reference_for,
    split,
)
from channels.sms.esme import Bind, SmppSettings
from channels.sms.fanout import FanOut, FanOutResult
from channels.sms.journal import JournalAudience
from channels.sms.late import LateReceipts
from channels.sms.numbers import InvalidNumberError, check_region, international_digits
from channels.sms.tracking import ReceiptTracker
from router.channel import (
    Alert,
    AreaKind,
    Audience,
    Capabilities,
    Delivery,
    FailureReason,
    FittedText,
    Health,
    MessageLedger,
    MsgType,
    NotApplicableError,
    PermanentError,
    PlainVariants,
    PreviewForm,
    Receipt,
    Recipient,
    TransientError,
    Variants,
)

DEFAULT_CANCEL_TEXT = "The earlier public warning has been withdrawn."


class SmsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=2775, ge=1, le=65535)
    system_id: str = Field(min_length=1, max_length=15)
    password: str | None = Field(default=None, max_length=8)
    password_env: str | None = None
    system_type: str = Field(default="", max_length=12)
    binds: int = Field(default=1, ge=1, le=64)
    window: int = Field(default=10, ge=1, le=1000)
    rate_per_bind: float = Field(default=0.0, ge=0)
    max_parts: int = Field(default=4, ge=1, le=255)
    batch_size: int = Field(default=500, ge=1, le=100_000)
    source_addr: str = Field(default="Tocsin", max_length=20)
    source_ton: int = Field(default=5, ge=0, le=6)
    source_npi: int = Field(default=0, ge=0, le=18)
    validity_period: str = Field(default="", max_length=16)
    bind_wait_s: float = Field(default=10.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    backoff_initial_s: float = Field(default=0.05, gt=0)
    backoff_max_s: float = Field(default=5.0, gt=0)
    receipt_wait_s: float = Field(default=0.0, ge=0, le=600)
    cancel_text: str = Field(default=DEFAULT_CANCEL_TEXT, min_length=1)
    recipients: list[str] = Field(default_factory=list)
    journal: Path | None = None
    default_region: str | None = Field(default=None, min_length=2, max_length=2)

    @model_validator(mode="after")
    def _consistent(self) -> SmsConfig:
        if self.password is None and not self.password_env:
            raise ValueError("an SMPP bind needs `password` or `password_env`")
        if self.password_env and self.password_env not in os.environ:
            raise ValueError(f"environment variable {self.password_env} (password_env) is not set")
        if self.recipients and self.journal is None:
            raise ValueError("`recipients` needs a `journal` file to remember who was sent what")
        if self.default_region is not None:
            self.default_region = check_region(self.default_region)
        self.recipients = self._normalised(self.recipients)
        return self

    def _normalised(self, written: list[str]) -> list[str]:
        """Each number as E.164 digits, once, here; every invalid one named by its key."""
        numbers, problems = [], []
        for index, text in enumerate(written):
            try:
                numbers.append(international_digits(text, self.default_region))
            except InvalidNumberError as exc:
                problems.append(f"recipients[{index}]: {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        return list(dict.fromkeys(numbers))  # one message per person, however often listed

    def smpp(self) -> SmppSettings:
        return SmppSettings(
            host=self.host, port=self.port, system_id=self.system_id,
            password=self.password if self.password is not None
            else os.environ[self.password_env or ""],
            system_type=self.system_type, binds=self.binds, window=self.window,
            rate_per_bind=self.rate_per_bind, bind_wait_s=self.bind_wait_s,
            connect_timeout_s=self.connect_timeout_s,
            backoff_initial_s=self.backoff_initial_s,
            backoff_max_s=self.backoff_max_s, source_addr=self.source_addr,
            source_ton=self.source_ton, source_npi=self.source_npi,
            validity_period=self.validity_period)


def _validated(config: Mapping[str, Any]) -> SmsConfig:
    """The configuration, or a ValueError listing every problem by key -- without
    pydantic's echo of the input, which would print the numbers and the password."""
    try:
        return SmsConfig.model_validate(config)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'config'}: "
                    f"{e['msg'].removeprefix('Value error, ')}"
                    for e in exc.errors(include_url=False, include_input=False)]
        raise ValueError("; ".join(problems)) from None


def _metrics(counts: Mapping[str, int]) -> dict[str, int]:
    return {"sms_recipients_sent": counts.get("accepted", 0),
            "sms_recipients_delivered": counts.get("delivered", 0),
            "sms_recipients_failed": counts.get("failed", 0),
            "sms_recipients_expired": counts.get("expired", 0)}


def language_parts(variants: Variants, language: str, budget: PartsBudget, key: str
                   ) -> tuple[FittedText, Split | None]:
    """One language's text fitted to the budget and split into the parts that go out
    (None when even the shortest form is too long): what ``send`` submits and what
    ``preview`` shows, by this one function."""
    fitted = variants.fit(language, budget)
    if not fitted.fits:
        return fitted, None
    return fitted, split(fitted.text, reference_for(f"{key}/{language}"))


def _too_long(fitted: FittedText, budget: PartsBudget) -> str:
    return (f"the {fitted.language} text needs {fitted.cost} SMS parts even in its "
            f"shortest form, {fitted.overflow} more than the limit of {budget.limit}")


def preview(alert: Alert, variants: Variants, budget: PartsBudget) -> list[PreviewForm]:
    """Per language, the parts a subscriber who chose it is sent (the same
    ``language_parts`` as ``send``; the concatenation reference is the delivery's and
    so not known before it exists)."""
    forms = []
    for language in variants.languages:
        fitted, parts = language_parts(variants, language, budget, alert.identifier)
        forms.append(PreviewForm(
            language, (language,), fitted.text, budget.name, fitted.cost, budget.limit,
            segments=len(parts.parts) if parts else fitted.cost, dropped=fitted.dropped,
            alphabet=("GSM-7" if parts.coding is Coding.GSM7 else "UCS-2") if parts else None,
            error=None if parts else _too_long(fitted, budget),
            notes=_notes(variants, language, fitted, budget),
            # each part as the phone decodes it, from the very parts send submits
            pages=tuple(decode_part(part)[1] for part in parts.parts) if parts else ()))
    return forms


def _notes(variants: Variants, language: str, fitted: FittedText, budget: PartsBudget
           ) -> tuple[tuple[str, str], ...]:
    """Letters replaced by the opt-in table, and the letters that make the whole text
    UCS-2 with the parts they cost (whether the SMS then went as UCS-2 or shorter)."""
    notes = []
    if fitted.substituted:
        notes.append(("render.text.gsm7-substituted",
                      f"{', '.join(fitted.substituted)} replaced to keep the SMS in the GSM "
                      "7-bit alphabet"))
    whole = variants.fit(language, PartsBudget(MAX_PARTS)).text
    blockers = budget.gsm7_blockers(whole)
    if blockers:
        stand_in = whole.translate({ord(char): "?" for char in blockers})
        sent = f"sent: {fitted.cost} parts" + (
            f", without {', '.join(fitted.dropped)}" if fitted.dropped else "")
        notes.append(("render.text.ucs2",
                      f"{' '.join(blockers[:20])} {'is' if len(blockers) == 1 else 'are'} not "
                      f"in the GSM 7-bit alphabet: the whole {language} text takes "
                      f"{part_count(whole)} UCS-2 parts, {part_count(stand_in)} in GSM-7 "
                      f"without them ({sent}); a language's table in config/accessibility/"
                      "gsm7-substitutions.yaml replaces letters, opt-in"))
    return tuple(notes)


class _Texts:
    """Each language's parts, fitted and split once per delivery."""

    def __init__(self, delivery: Delivery, budget: PartsBudget, text: str | None = None) -> None:
        self.key = delivery.idempotency_key
        variants: Variants = delivery.variants or PlainVariants(delivery.alert)
        self.languages = variants.languages
        if text is not None:
            self._parts = {"*": split(text, reference_for(self.key)).parts}
            return
        if not self.languages:
            raise PermanentError("the alert has no text to send", FailureReason.INVALID_INPUT)
        self._parts = {}
        for language in self.languages:
            fitted, parts = language_parts(variants, language, budget, self.key)
            if parts is None:
                raise PermanentError(_too_long(fitted, budget), FailureReason.TOO_LONG)
            self._parts[language.lower()] = parts.parts

    def parts_for(self, recipient: Recipient) -> tuple[Part, ...]:
        if "*" in self._parts:
            return self._parts["*"]
        chosen = (recipient.language or "").lower()
        if chosen in self._parts:
            return self._parts[chosen]
        primary = chosen.split("-", 1)[0]
        for language, parts in self._parts.items():
            if primary and language.split("-", 1)[0] == primary:
                return parts
        return next(iter(self._parts.values()))

    def sizes(self) -> dict[str, int]:
        return {language: len(parts) for language, parts in self._parts.items()}


class SmsChannel:
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        self.name = name
        self.config = _validated(config)
        self.budget = PartsBudget(self.config.max_parts)
        self.capabilities = Capabilities(
            area_kinds=frozenset({AreaKind.POLYGON, AreaKind.CIRCLE, AreaKind.GEOCODE}),
            supports_update=True, supports_cancel=True, budget=lambda _lang: self.budget,
            recipients="msisdn", public=True,
            preview=lambda alert, variants: preview(alert, variants, self.budget))
        self.tracker = ReceiptTracker()
        self.late: LateReceipts | None = None
        self._binds: list[Bind] = []
        self._flusher: asyncio.Task[None] | None = None

    def use_message_ledger(self, ledger: MessageLedger) -> None:
        self.late = LateReceipts(ledger)

    def _on_receipt(self, message_id: str, state: str) -> None:
        if self.late is None or self.tracker.knows(message_id):
            self.tracker.receipt(message_id, state)
        else:
            self.late.receipt(message_id, state)

    async def start(self) -> None:
        settings = self.config.smpp()
        self._binds = [Bind(settings, lambda r: self._on_receipt(r.message_id, r.state))
                       for _ in range(settings.binds)]
        for bind in self._binds:
            bind.start()
        self._flusher = asyncio.create_task(self._flush_receipts(), name="tocsin-sms-receipts")

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self._settle()
        for bind in self._binds:
            await bind.stop()

    async def _flush_receipts(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            with contextlib.suppress(Exception):  # the store is briefly unavailable: next time
                await self._settle()

    async def _settle(self) -> None:
        if self.late is not None and len(self.late):
            await self.late.flush(self.tracker.offer)
        for audience, results in self.tracker.take():
            await audience.settle(results)

    def _audience(self, delivery: Delivery, key: str, prior: str | None,
                  include_list: bool) -> Audience:
        if delivery.audience is not None:
            return delivery.audience
        if not self.config.recipients or self.config.journal is None:
            raise NotApplicableError("no subscribers and no fixed recipients for SMS")
        return JournalAudience(self.config.journal, self.config.recipients, key,
                               prior_key=prior, include_list=include_list)

    async def send(self, delivery: Delivery) -> Receipt:
        if delivery.alert.msg_type is MsgType.CANCEL:
            raise NotApplicableError("SMS never carried the alert this Cancel refers to")
        texts = _Texts(delivery, self.budget)
        prior = delivery.replaces.idempotency_key if delivery.replaces else None
        audience = self._audience(delivery, delivery.idempotency_key, prior, True)
        result = await self._fan_out(audience, texts)
        return await self._receipt(delivery, audience, result, texts)

    async def cancel(self, delivery: Delivery, receipt: Receipt) -> None:
        # the Cancel's own text in each recipient's language: its <info>s, else its
        # <note>, else the template library's notice (all in the rendered variants);
        # ``cancel_text`` only when nothing was rendered at all
        own = delivery.alert.msg_type is MsgType.CANCEL and (
            delivery.alert.infos or (delivery.variants is not None
                                     and delivery.variants.languages))
        texts = (_Texts(delivery, self.budget) if own
                 else _Texts(delivery, self.budget, self.config.cancel_text))
        key = delivery.idempotency_key
        if key == receipt.idempotency_key:
            key += "/cancel"
        audience = self._audience(delivery, key, receipt.idempotency_key, False)
        await self._fan_out(audience, texts)

    async def _fan_out(self, audience: Audience, texts: _Texts) -> FanOutResult:
        if not self._binds:
            raise TransientError("the SMS channel is not started", FailureReason.UNAVAILABLE)
        in_memory = self.late is None or isinstance(audience, JournalAudience)
        fan_out = FanOut(self._binds, self.config.window, audience, texts.parts_for,
                         self.tracker if in_memory else None,
                         batch_size=self.config.batch_size)
        result = await fan_out.run()
        if result.link_down is not None:
            raise TransientError(f"SMSC {self.config.host}:{self.config.port} unreachable: "
                                 f"{result.link_down} ({result.sent} sent, {result.unsent} "
                                 "left for the next attempt)", FailureReason.UNAVAILABLE)
        if result.unsent:
            raise TransientError(f"the SMSC kept deferring {result.unsent} messages "
                                 f"({result.sent} sent); they go in the next attempt",
                                 FailureReason.OVERLOADED)
        if result.failed and not result.sent:
            codes = ", ".join(f"0x{code:02X} x{n}" for code, n in result.refusals.items())
            raise PermanentError(f"the SMSC refused all {result.failed} messages ({codes})",
                                 FailureReason.REJECTED)
        return result

    async def _receipt(self, delivery: Delivery, audience: Audience, result: FanOutResult,
                       texts: _Texts) -> Receipt:
        if self.config.receipt_wait_s and result.sent:
            await asyncio.sleep(self.config.receipt_wait_s)  # let early receipts land
        await self._settle()
        counts = dict(await audience.counts())
        duplicate = result.sent == 0 and result.failed == 0 and counts.get("accepted", 0) > 0
        return Receipt(self.name, delivery.idempotency_key, reference=delivery.idempotency_key,
                       duplicate=duplicate,
                       detail={"metrics": _metrics(counts), "recipients": counts,
                               "parts": texts.sizes(), "interrupted": audience.interrupted,
                               "this_attempt": {"sent": result.sent, "failed": result.failed}})

    async def health(self) -> Health:
        """Up while any bind is; ``facts`` has every bind's state for the dashboard."""
        if not self._binds:
            return Health(False, "not started")
        target = f"SMSC {self.config.host}:{self.config.port}"
        bound = sum(b.ready.is_set() for b in self._binds)
        if not bound:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(self.config.bind_wait_s, 5.0)):
                    await self._binds[0].ready.wait()
            bound = sum(b.ready.is_set() for b in self._binds)
        errors = [b.last_error for b in self._binds if b.last_error and not b.ready.is_set()]
        facts = {"smsc": f"{self.config.host}:{self.config.port}", "binds_up": bound,
                 "binds": len(self._binds), "last_error": errors[0] if errors else None}
        if bound:
            return Health(True, f"{target}: {bound} of {len(self._binds)} binds up", facts)
        return Health(False, f"{target}: no bind up ({self._binds[0].last_error or 'binding'})",
                      facts)
