"""The channel adapter contract: what every adapter in ``channels/`` implements.

Stage: public contract. Adapters import only this module, ``router.errors`` and
the CAP model it re-exports; they never see the store, HTTP handlers or routing.

An adapter is built by a factory registered in the ``tocsin.channels``
entry-point group (see ``router.registry``) from its instance name and its
configuration mapping, and then:

- declares ``capabilities`` (text limits per language, area kinds, whether it
  has its own update and cancel);
- ``send(delivery)`` hands one alert to its network and returns a ``Receipt``;
  it raises ``TransientError`` (retry later) or ``PermanentError`` (give up,
  maybe fall back). ``delivery.idempotency_key`` is stable across retries and
  restarts: an adapter passes it to its network (or remembers it) so that a
  retried send never becomes a second broadcast;
- ``cancel(delivery, receipt)`` withdraws what an earlier send put out, where
  the network can (a CBC kill); ``update`` is ``send`` with ``delivery.replaces``;
- ``health()`` reports whether the network element is reachable, and in ``facts``
  what the adapter knows of it beyond that (the identifiers a CBC has on air, the
  SMSC binds up), which the crisis dashboard shows;

``delivery.variants`` holds the accessible text (``Variants``); the renderer's
variants are also ``MediaVariants``: the spoken audio made so far and the linked
sign-language clips, as ``Asset`` records a channel may point devices to.

A channel that reaches subscribers one by one (SMS, a wallet push) names the kind
of address it needs in ``Capabilities.recipients``; the dispatcher then attaches an
``Audience`` to each delivery: the recipients still to be sent, streamed in
batches from durable storage, and the place to record each recipient's outcome.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from router.cap.model import Alert, Info, MsgType, Status
from router.errors import FailureReason, NotApplicableError, PermanentError, TransientError

__all__ = [
    "Alert",
    "AreaKind",
    "Asset",
    "Audience",
    "Capabilities",
    "Channel",
    "ChannelFactory",
    "CharacterBudget",
    "Delivery",
    "DocumentPublisher",
    "FailureReason",
    "FittedText",
    "Health",
    "Info",
    "LateReceipts",
    "MediaVariants",
    "MessageLedger",
    "MsgType",
    "NotApplicableError",
    "PermanentError",
    "PlainVariants",
    "PreviewForm",
    "Receipt",
    "Recipient",
    "RecipientOutcome",
    "RecipientResult",
    "Status",
    "TextBudget",
    "TransientError",
    "Variants",
]


class AreaKind(StrEnum):
    POLYGON = "polygon"
    CIRCLE = "circle"
    GEOCODE = "geocode"
    NONE = "none"  # the channel does not target by area (subscribers, a file, a webhook)


@dataclass(frozen=True)
class Capabilities:
    """What a channel can carry; the dispatcher and renderers respect these."""

    max_text_length: Mapping[str, int] = field(default_factory=dict)
    """Characters per language tag prefix (``"nl"``, ``"en"``); ``"*"`` for any other."""
    area_kinds: frozenset[AreaKind] = frozenset({AreaKind.NONE})
    supports_update: bool = False
    supports_cancel: bool = False
    budget: Callable[[str], TextBudget] | None = None
    """The channel's text budget for a language, in its own encoding units (pages,
    septets, parts, bytes); renderers and ``tocsin preview`` use it. Without it the
    budget is ``max_text_length`` characters."""
    recipients: str | None = None
    """The kind of subscriber address the channel sends to (``"msisdn"`` for SMS,
    ``"wallet"`` for a wallet push): the dispatcher attaches ``Delivery.audience``
    with subscribers of that kind. None: the channel broadcasts, it has no audience."""
    public: bool = True
    """The channel reaches the public (cell broadcast, SMS subscribers, wallets, EWSS,
    public feeds). ``Private`` and ``Restricted`` alerts are never sent on a public
    channel: a route that could only send them there is a configuration error, and at
    run time the delivery ends ``skipped`` with reason ``scope``. True unless the
    adapter declares otherwise, so that a channel that says nothing is treated as the
    one that could do harm."""
    preview: Callable[[Alert, Variants], Sequence[PreviewForm]] | None = None
    """What the channel would send for this alert, built by the code ``send`` builds it
    with (a cell broadcast message as composed and paged, the SMS parts per language),
    so that ``tocsin preview`` and ``/variants`` show exactly what goes out. Pure and
    computed only when asked. None: the preview fits each language to ``budget``."""
    send_timeout_s: float | None = None
    """How long one ``send`` (or ``cancel``) may take before the dispatcher gives up on
    the attempt and retries it, when the channel needs longer than the deployment's
    ``dispatch_send_timeout_s`` (a cell broadcast Update makes two CBC calls, each with
    its own HTTP timeout). None: the deployment's default. Channels with ``recipients``
    keep the dispatcher's fan-out timeout instead."""

    def text_limit(self, language: str) -> int | None:
        primary = language.split("-", 1)[0].lower()
        return self.max_text_length.get(primary, self.max_text_length.get("*"))

    def text_budget(self, language: str) -> TextBudget | None:
        """The budget to fit text for ``language`` into, or None for no limit."""
        if self.budget is not None:
            return self.budget(language)
        limit = self.text_limit(language)
        return CharacterBudget(f"{limit} characters", limit) if limit is not None else None


class TextBudget(Protocol):
    """A channel's room for text, counted in the channel's own encoding units.

    Cell broadcast counts GSM-7 septets or UCS-2 characters across pages, SMS
    counts parts, a push service counts bytes. The renderer never needs to know
    the encoding: it asks ``cost(text)`` and compares with ``limit``.
    """

    @property
    def name(self) -> str:
        """How the budget reads to an operator (``"15 pages GSM-7"``)."""

    @property
    def limit(self) -> int:
        """The units available."""

    def cost(self, text: str) -> int:
        """The units ``text`` uses in the channel's encoding."""

    # Optional: ``gsm7_blockers(text) -> str``, the characters of ``text`` that would
    # make it go out as UCS-2 (empty: none, or no gain). A budget that has it lets the
    # renderer apply a language's opt-in GSM-7 substitution table (cell broadcast, SMS).


@dataclass(frozen=True)
class CharacterBudget:
    """A budget counted in Unicode characters (a channel with no encoding of its own)."""

    name: str
    limit: int

    def cost(self, text: str) -> int:
        return len(text)


@dataclass(frozen=True)
class FittedText:
    """Text made to fit a ``TextBudget`` (or the proof that it cannot).

    ``dropped`` names the summary slots left out to make it fit; ``overflow``
    says by how many units the shortest form is still too long (0 when it fits).
    A channel that receives ``fits == False`` fails the delivery permanently with
    ``FailureReason`` for too-long text and a message stating the overflow; it
    never cuts the text itself.
    """

    language: str
    text: str
    cost: int
    limit: int
    dropped: tuple[str, ...] = ()
    substituted: tuple[str, ...] = ()
    """Letters replaced to keep the text in the GSM 7-bit alphabet (``"ë→e"``), by the
    deployment's opt-in table; empty when nothing was replaced."""

    @property
    def overflow(self) -> int:
        return max(0, self.cost - self.limit)

    @property
    def fits(self) -> bool:
        return self.cost <= self.limit


@dataclass(frozen=True)
class PreviewForm:
    """One message a channel would send: its text and how it is carried.

    ``languages`` are the variants the message is built from (a bilingual NL-Alert
    is one message of two); ``segments`` the pages or parts it goes out in;
    ``alphabet`` the coding (``GSM-7``/``UCS-2``) where the channel has one;
    ``error``, when it cannot be sent, why (``fits`` is then False); ``notes``
    (code, message) pairs the operator should read (text added or substituted)."""

    slot: str
    languages: tuple[str, ...]
    text: str
    budget: str
    cost: int
    limit: int
    segments: int | None = None
    dropped: tuple[str, ...] = ()
    alphabet: str | None = None
    error: str | None = None
    notes: tuple[tuple[str, str], ...] = ()
    ellipse: Mapping[str, Any] | None = None
    """Where the channel targets an ellipse (EWSS): the decoded ellipse, its outline as
    (lat, lon) points and the over-warning ratio, for the console's map."""
    pages: tuple[str, ...] = ()
    """Where the channel pages its text: each page's text as a receiver shows it (cell
    broadcast: read back from the encoded pages; SMS: each concatenated part, decoded
    from the parts submitted), empty where it does not page."""

    @property
    def fits(self) -> bool:
        return self.error is None and self.cost <= self.limit


@runtime_checkable
class Variants(Protocol):
    """The accessible variants rendered once per alert (``router.render``).

    ``languages`` are the alert's languages in the order the deployment prefers
    them; ``fit`` returns the longest form for ``language`` that fits ``budget``,
    dropping lower-priority slots in a fixed order, never cutting mid-word.
    """

    @property
    def languages(self) -> tuple[str, ...]: ...

    def fit(self, language: str, budget: TextBudget) -> FittedText: ...


@dataclass(frozen=True)
class Asset:
    """A media file that goes with an alert: spoken audio Tocsin made, or a clip the
    CAP message links (a sign-language video).

    Exactly one of ``name`` and ``uri`` is set. ``name`` is a file Tocsin made and
    serves itself; each channel knows the route its devices may fetch it from (so the
    contract names no URL layout). ``uri`` is an address outside Tocsin, as the CAP
    ``<resource>`` gave it. ``sha256`` is None when nobody has hashed the bytes (CAP
    1.2 gives SHA-1 only, in ``sha1``): a device must not play what it cannot check.
    """

    kind: str  # "audio" | "sign_language" | "video"
    mime_type: str
    description: str
    language: str | None = None
    name: str | None = None
    uri: str | None = None
    sha256: str | None = None
    sha1: str | None = None
    size: int | None = None
    duration_s: float | None = None


@runtime_checkable
class MediaVariants(Protocol):
    """What ``Delivery.variants`` may also offer besides ``Variants`` (``router.render``'s
    variants do): the alert's media as known when the delivery was handed over.

    Speech is made after the alert is accepted and delivery never waits for it, so a
    delivery may be handed over before the audio exists: then ``speech_pending`` is
    True and ``assets`` has no audio yet (a channel may tell devices where to look
    again later). A channel checks ``isinstance(delivery.variants, MediaVariants)``.
    """

    @property
    def assets(self) -> tuple[Asset, ...]: ...

    @property
    def speech_pending(self) -> bool: ...


class PlainVariants:
    """The variants a channel falls back on when none were rendered (a delivery built
    by hand, a third-party caller): per ``<info>``, headline + description +
    instruction, else headline + instruction, else the headline -- the first that
    fits. It never cuts text; when nothing fits it returns the shortest form with
    ``fits == False``. ``router.render`` produces the real, accessible variants."""

    def __init__(self, alert: Alert) -> None:
        self._infos = {info.effective_language.lower(): info for info in reversed(alert.infos)}
        self._order = tuple(dict.fromkeys(i.effective_language.lower() for i in alert.infos))

    @property
    def languages(self) -> tuple[str, ...]:
        return self._order

    def fit(self, language: str, budget: TextBudget) -> FittedText:
        info = self._infos.get(language.lower())
        if info is None:
            primary = language.split("-", 1)[0].lower()
            info = next((i for tag, i in self._infos.items()
                         if tag.split("-", 1)[0] == primary), None)
        if info is None:
            return FittedText(language, "", 0, budget.limit)
        head = info.headline or info.event
        forms = [("\n".join(p for p in (head, info.description, info.instruction) if p), ()),
                 ("\n".join(p for p in (head, info.instruction) if p), ("description",)),
                 (head, ("description", "instruction"))]
        fitted = [FittedText(language, text, budget.cost(text), budget.limit, dropped)
                  for text, dropped in forms]
        return next((f for f in fitted if f.fits), fitted[-1])


class RecipientOutcome(StrEnum):
    """What became of one recipient of one delivery."""

    SENT = "sent"  # the network accepted it; no final word yet
    DELIVERED = "delivered"  # the network confirmed delivery (a receipt)
    FAILED = "failed"  # refused or undeliverable; not sent again
    EXPIRED = "expired"  # the network gave up (its validity period ran out)
    UNSENT = "unsent"  # not sent after all (an interrupted send): offer it again
    GONE = "gone"  # the address no longer exists (Web Push 404/410): unsubscribe it


@dataclass(frozen=True)
class Recipient:
    """One subscriber as a channel sees it. ``key`` is opaque and stable (safe to log);
    ``address`` (a phone number, a wallet handle) is personal data: never log it, never
    put it in a metric label, an error message or a receipt."""

    key: str
    address: str
    language: str | None = None  # the language the subscriber chose, if any

    def __repr__(self) -> str:  # keeps the address out of tracebacks and debug logs
        return f"Recipient(key={self.key!r}, language={self.language!r})"


@dataclass(frozen=True)
class RecipientResult:
    """One recipient's outcome. ``reference`` on a ``SENT`` result: the network's message
    id(s) for it, separated by spaces (one per SMS part); Tocsin keeps each durably as
    the recipient's entry in the channel's ``MessageLedger``."""

    key: str
    outcome: RecipientOutcome
    reference: str | None = None  # the network's message id(s), for receipts and audits
    reason: FailureReason | None = None  # why a FAILED or GONE recipient ended (closed set)


@runtime_checkable
class Audience(Protocol):
    """The recipients of one delivery and their outcomes, kept durably by Tocsin.

    Streaming keeps memory flat at any audience size; durable outcomes make the
    delivery resumable: a retry, a rebind or a restart offers only the recipients
    without an outcome, so nobody who was sent the message gets it again and nobody is
    left out. Each batch is claimed durably before it is handed out; after a crash,
    claimed recipients without an outcome are offered again (at least once: only the
    messages in flight at the moment of the crash can arrive twice).
    """

    def batches(self, size: int) -> AsyncIterator[Sequence[Recipient]]:
        """Recipients still to be sent, at most ``size`` at a time; ends early when the
        alert is cancelled or superseded meanwhile (see ``interrupted``)."""

    async def record(self, results: Sequence[RecipientResult]) -> None:
        """Store outcomes durably (``UNSENT`` gives a claimed recipient back)."""

    async def settle(self, results: Sequence[RecipientResult]) -> None:
        """Store final outcomes that arrived later (delivery receipts), by recipient key."""

    async def counts(self) -> Mapping[str, int]:
        """Recipients per outcome value so far (``{"sent": 10, "delivered": 7, ...}``)."""

    @property
    def interrupted(self) -> str | None:
        """Why ``batches`` stopped early (``"cancelled"``, ``"superseded"``), else None."""


@runtime_checkable
class MessageLedger(Protocol):
    """Network message id -> recipient, kept durably by Tocsin for one channel instance.

    Filled from the ``reference`` of every ``SENT`` result an ``Audience`` records, so a
    final word from the network (an SMS delivery receipt) finds its recipient however
    late it comes: after ``send`` returned, after a restart, or on another node's
    connection. The ledger, not the channel's memory, decides a recipient's outcome:
    ``delivered`` once every one of its message ids was delivered, ``failed`` or
    ``expired`` at the first id that was not.
    """

    async def settle_messages(self, receipts: Sequence[tuple[str, RecipientOutcome]]
                              ) -> set[str]:
        """Apply final states by message id; the ids it knew (the rest are unknown yet:
        not recorded so far, or never Tocsin's)."""


@runtime_checkable
class LateReceipts(Protocol):
    """A channel whose recipients' outcomes arrive after ``send`` returns (SMS receipts).
    Tocsin hands it the channel's durable ``MessageLedger`` before ``start``."""

    def use_message_ledger(self, ledger: MessageLedger) -> None: ...


@dataclass(frozen=True)
class Delivery:
    """One alert for one channel instance, as the dispatcher hands it over."""

    alert_id: str
    channel: str
    idempotency_key: str
    alert: Alert
    raw: bytes
    attempt: int = 1
    deadline: datetime | None = None
    replaces: Receipt | None = None  # an Update: the receipt of what it supersedes
    variants: Variants | None = None  # rendered accessible variants; None before rendering exists
    audience: Audience | None = None  # recipients, for a channel with ``recipients`` set


@dataclass(frozen=True)
class Receipt:
    """What the network said when it took the alert: enough to cancel or update it later.

    ``detail`` is stored with the delivery and handed back as ``Delivery.replaces.detail``
    to the Update or Cancel that follows (so a channel keeps its own mapping -- a CBC
    message id and serial number -- durable without a store of its own). Its key
    ``"metrics"``, when present, maps channel counters to numbers for the record stage
    to turn into Prometheus series: ``cbs_pages``, ``sms_recipients_sent``,
    ``sms_recipients_delivered``, ``sms_recipients_failed``, ``sms_recipients_expired``,
    ``ewss_messages``, ``wallet_pushes`` (a closed set; unknown names are ignored).
    """

    channel: str
    idempotency_key: str
    reference: str  # the network's own id (CBC message id, webhook response id, file offset)
    detail: Mapping[str, Any] = field(default_factory=dict)
    duplicate: bool = False  # the network already had this idempotency key


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)
    """What the adapter knows of its network element beyond reachable or not, as JSON
    values: the crisis dashboard shows them per channel (``GET /api/v1/events``), so
    an operator sees a CBC's identifiers on air or an SMSC with half its binds down
    without reading logs. Cheap to gather: no call beyond the reachability probe."""


@runtime_checkable
class Channel(Protocol):
    name: str
    capabilities: Capabilities

    async def start(self) -> None:
        """Open connections; called once before the first send."""

    async def close(self) -> None:
        """Release connections; called once at shutdown."""

    async def send(self, delivery: Delivery) -> Receipt: ...

    async def cancel(self, delivery: Delivery, receipt: Receipt) -> None:
        """Withdraw an earlier send; PermanentError(REJECTED) when the network cannot."""

    async def health(self) -> Health: ...


@runtime_checkable
class DocumentPublisher(Protocol):
    """A channel whose messages devices verify against keys Tocsin publishes, and whose
    full documents devices may fetch from Tocsin (the wallet push). The HTTP API serves
    ``jwks()``, ``application_server_key`` and ``signed_document(delivery)`` for it."""

    def jwks(self) -> dict[str, Any]: ...

    @property
    def application_server_key(self) -> str: ...

    def signed_document(self, delivery: Delivery) -> str: ...


class ChannelFactory(Protocol):
    def __call__(self, name: str, config: Mapping[str, Any]) -> Channel: ...


@dataclass(frozen=True)
class StateEntry:
    """One value of a channel's durable state and the version a change must name."""

    key: str
    value: bytes
    version: int  # 1 when first written, +1 at every change


class ChannelState(Protocol):
    """A small durable key -> value area of one channel instance, shared by every node
    on the same store, with compare-and-set: what an adapter keeps that must survive a
    restart or another node taking over (identifier holders, intents, serial numbers).
    Every call returns once the change is committed (durable), so an intent written
    before a network call is on disk before the call is made."""

    async def get(self, key: str) -> StateEntry | None: ...

    async def compare_and_set(self, key: str, value: bytes,
                              expected_version: int | None) -> StateEntry | None:
        """Write ``value`` if the key is at ``expected_version`` (None: absent); the new
        entry, or None when another writer changed it first (nothing written)."""

    async def scan(self, prefix: str) -> list[StateEntry]:
        """Every entry whose key starts with ``prefix``, in key order."""

    async def delete(self, key: str, expected_version: int) -> bool:
        """Remove the key if it is at ``expected_version``; False otherwise."""


@runtime_checkable
class KeepsChannelState(Protocol):
    """A channel that keeps durable state in Tocsin's store (``ChannelState``); Tocsin
    hands it its own area before ``start``."""

    def use_channel_state(self, state: ChannelState) -> None: ...
