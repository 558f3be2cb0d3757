"""Which texts a delivery becomes, in which languages, on which identifiers.

Stage: pure policy of the cell broadcast adapter. Text always comes from the
rendered variants (``Variants.fit``) against a ``CbsBudget``; nothing here cuts
text. Language modes (``Languages.mode``):

- ``bilingual`` (NL-Alert): one message, the primary text, the separator, then
  the secondary text. The secondary language is sure of ``secondary_share`` of
  the budget (a third by default); the primary gets everything else, and the
  secondary is then fitted again into what the primary left. Both parts are
  measured in the alphabet the whole message uses (one non-GSM character in
  either part makes the whole message UCS-2). The DCS is the primary language's.
- ``separate``: one message per language, the secondary on the additional-
  language identifier (+13), each with the whole budget.
- ``single``: the primary language only (or the first language there is).

The authority's words always go out: when every language the mode picks is
template text only (an Arabic-only alert on an NL-Alert deployment gets Dutch and
English from the template library), the authority's own language is added to the
(main) message after them, UCS-2 where it needs to be, and the preview says so
(``render.language.authored-added``).
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.cell_broadcast.alphabet import is_gsm7, non_gsm7
from channels.cell_broadcast.budget import CbsBudget, units
from channels.cell_broadcast.coding import GSM7_PER_PAGE, choose_coding, primary_language
from channels.cell_broadcast.config import Deployment
from channels.cell_broadcast.identifiers import additional_language_id, message_identifier
from channels.cell_broadcast.pages import EncodedMessage, encode, layout, normalise, page_texts
from router.channel import Alert, FittedText, Info, PermanentError, PreviewForm, Variants
from router.errors import FailureReason


@dataclass(frozen=True)
class PlannedMessage:
    """One CBS message to write: its slot in the delivery, identifier and pages."""

    slot: str  # "main" or "additional"
    message_id: int
    languages: tuple[str, ...]
    text: str
    encoded: EncodedMessage
    dropped: tuple[str, ...] = ()
    substituted: tuple[str, ...] = ()
    """Letters the language's opt-in table replaced to keep the message GSM-7."""


def _tag(variants: Variants, language: str | None) -> str | None:
    if language is None:
        return None
    return next((tag for tag in variants.languages
                 if primary_language(tag) == language.lower()), None)


def _info(alert: Alert, tag: str | None) -> Info:
    if tag is not None:
        primary = primary_language(tag)
        for info in alert.infos:
            if primary_language(info.effective_language) == primary:
                return info
    if not alert.infos:
        raise PermanentError("the alert has no <info> to broadcast", FailureReason.INVALID_INPUT)
    return alert.infos[0]


def _too_long(parts: list[tuple[FittedText, CbsBudget]]) -> PermanentError:
    detail = "; ".join(f"{fitted.language}: {budget.shortfall(fitted.text)}"
                       for fitted, budget in parts if not fitted.fits)
    return PermanentError(f"the text does not fit a cell broadcast message: {detail}",
                          FailureReason.TOO_LONG)


def _clean(fitted: FittedText) -> str:
    return normalise(fitted.text).rstrip()


Composed = tuple[str, tuple[str, ...], tuple[str, ...]]
"""The message text, the slots dropped and the letters substituted."""


def _whole(variants: Variants, tag: str, pages: int) -> Composed:
    budget = CbsBudget(tag, pages)
    fitted = variants.fit(tag, budget)
    if not fitted.fits:
        raise _too_long([(fitted, budget)])
    if not fitted.text.strip():
        raise PermanentError(f"no text in language {tag}", FailureReason.INVALID_INPUT)
    return _clean(fitted), fitted.dropped, fitted.substituted


def _together(variants: Variants, tags: tuple[str, ...], deployment: Deployment,
              force_ucs2: bool) -> Composed | None:
    """Several languages in one message, in ``tags`` order, joined by the separator; or
    None when it only fits as UCS-2 and was measured as GSM-7.

    Every part after the first is sure of its share (``secondary_share`` for two
    parts, an equal share for more); the first gets everything else, and the others
    are then fitted again into what is left."""
    languages, pages = deployment.languages, deployment.max_pages
    first, rest = tags[0], tags[1:]
    total = pages * GSM7_PER_PAGE
    separator = CbsBudget(first, pages, force_ucs2).cost("." + languages.separator) - 1
    separators = separator * len(rest)
    share = int(total * languages.secondary_share) if len(rest) == 1 else total // len(tags)
    slack = 0
    for _ in range(4):  # page-boundary effects can cost a few units; bounded re-tries
        budgets = {tag: CbsBudget(tag, pages, force_ucs2, reserve=total - share + slack)
                   for tag in rest}
        fitted = {tag: variants.fit(tag, budgets[tag]) for tag in rest}
        budgets[first] = CbsBudget(first, pages, force_ucs2, reserve=sum(
            f.cost for f in fitted.values()) + separators + slack)
        fitted = {first: variants.fit(first, budgets[first]), **fitted}
        for tag in rest:
            others = sum(f.cost for other, f in fitted.items() if other != tag)
            budgets[tag] = CbsBudget(tag, pages, force_ucs2,
                                     reserve=others + separators + slack)
            fitted[tag] = variants.fit(tag, budgets[tag])
        if not all(f.fits for f in fitted.values()):
            raise _too_long([(fitted[tag], budgets[tag]) for tag in tags])
        text = languages.separator.join(_clean(fitted[tag]) for tag in tags)
        if not force_ucs2 and not is_gsm7(text):
            return None
        whole = CbsBudget(first, pages, force_ucs2)
        if whole.cost(text) <= whole.limit:
            return text, tuple(f"{tag}:{d}" for tag in tags for d in fitted[tag].dropped), \
                tuple(dict.fromkeys(s for tag in tags for s in fitted[tag].substituted))
        slack += whole.cost(text) - whole.limit
    raise PermanentError(f"the {len(tags)} languages do not fit one cell broadcast message",
                         FailureReason.TOO_LONG)


def _composed(variants: Variants, tags: tuple[str, ...], deployment: Deployment
              ) -> Composed:
    """One language alone, or several together (GSM-7 when the whole message can be)."""
    if len(tags) == 1:
        return _whole(variants, tags[0], deployment.max_pages)
    composed = (_together(variants, tags, deployment, force_ucs2=False)
                or _together(variants, tags, deployment, force_ucs2=True))
    if composed is None:  # cannot happen: the UCS-2 pass never returns None
        raise PermanentError("no composed text", FailureReason.INTERNAL)
    return composed


def _authored(variants: Variants, chosen: tuple[str, ...]) -> str | None:
    """The authority's own language to carry beside ``chosen`` when every chosen
    language is template text only (an Arabic-only alert on an NL-Alert deployment):
    template text never silently replaces the authority's words. None when a chosen
    language is the authority's, or the variants do not say which are."""
    authored = getattr(variants, "authored", None)
    if not isinstance(authored, tuple) or any(tag in authored for tag in chosen):
        return None
    return next((tag for tag in authored if tag not in chosen), None)


def _message(slot: str, message_id: int, tags: tuple[str, ...], composed: Composed
             ) -> PlannedMessage:
    text, dropped, substituted = composed
    coding = choose_coding(tags[0], text)
    return PlannedMessage(slot, message_id, tags, text, encode(text, coding), dropped,
                          substituted)


def plan(alert: Alert, variants: Variants, deployment: Deployment) -> list[PlannedMessage]:
    """The messages this alert becomes on this deployment (one, or two when the
    languages go out separately)."""
    languages = deployment.languages
    first = _tag(variants, languages.primary)
    second = _tag(variants, languages.secondary)
    if first is None:
        first, second = (variants.languages[0] if variants.languages else None), None
    if first is None:
        raise PermanentError("the alert has no text to broadcast", FailureReason.INVALID_INPUT)
    message_id = message_identifier(deployment.identifiers, alert, _info(alert, first))
    if second == first or languages.mode == "single":
        second = None
    extra = _authored(variants, tuple(t for t in (first, second) if t))
    added = (extra,) if extra else ()
    if second is None:
        return [_message("main", message_id, (first, *added),
                         _composed(variants, (first, *added), deployment))]
    if languages.mode == "separate":
        return _separate(variants, (first, second), message_id, deployment, added)
    tags = (first, second, *added)
    return [_message("main", message_id, tags, _composed(variants, tags, deployment))]


def _separate(variants: Variants, tags: tuple[str, str], message_id: int,
              deployment: Deployment, added: tuple[str, ...]) -> list[PlannedMessage]:
    twin = additional_language_id(message_id)
    if twin is None:
        raise PermanentError(f"message identifier {message_id} has no additional-language "
                             "twin; broadcast the languages together (mode bilingual)",
                             FailureReason.CONFIGURATION)
    messages = []
    for slot, parts, ident in (("main", (tags[0], *added), message_id),
                               ("additional", (tags[1],), twin)):
        messages.append(_message(slot, ident, parts, _composed(variants, parts, deployment)))
    return messages


def preview(alert: Alert, variants: Variants, deployment: Deployment) -> list[PreviewForm]:
    """What ``plan`` makes of this alert, as the operator sees it before sending: each
    message as the one message it is (a bilingual NL-Alert is one form of both
    languages), its pages and alphabet, or why it cannot go out. The same ``plan``
    the channel's ``send`` runs, so the preview is the broadcast."""
    pages = deployment.max_pages
    budget = f"{pages} CBS pages ({pages * GSM7_PER_PAGE} GSM-7 septet units)"
    limit = pages * GSM7_PER_PAGE
    try:
        planned = plan(alert, variants, deployment)
    except PermanentError as exc:
        return [PreviewForm("main", tuple(variants.languages[:2]), "", budget, 0, limit,
                            error=str(exc))]
    return [PreviewForm(
        message.slot, message.languages, message.text, budget,
        units(message.text, message.encoded.coding) if message.text else 0, limit,
        segments=message.encoded.page_count, dropped=message.dropped,
        alphabet=message.encoded.coding.alphabet, notes=_notes(message, variants),
        pages=tuple(page_texts(message.encoded)))
        for message in planned]


_UNBOUNDED = 1000
"""Pages for measuring a language's whole text (never sent: a message has 15 at most)."""


def _notes(message: PlannedMessage, variants: Variants) -> tuple[tuple[str, str], ...]:
    """What the operator should know before sending: the letters the opt-in table
    replaced, and per language the letters that make its whole text UCS-2, with what
    they cost in pages (whether the message then went as UCS-2 or dropped slots)."""
    notes = []
    authored = getattr(variants, "authored", ())
    mine = [tag for tag in message.languages if tag in authored]
    if len(message.languages) > 1 and len(mine) == 1 and mine[0] == message.languages[-1]:
        others = ", ".join(t for t in message.languages if t != mine[0])
        notes.append(("render.language.authored-added",
                      f"the alert has no <info> in {others} (those parts are template "
                      f"text only); the authority's own {mine[0]} text is broadcast "
                      "beside them, in the same message"))
    if message.substituted:
        notes.append(("render.text.gsm7-substituted",
                      f"{', '.join(message.substituted)} replaced to keep the message in "
                      f"the GSM 7-bit alphabet ({message.encoded.page_count} pages)"))
    for tag in message.languages:
        whole = variants.fit(tag, CbsBudget(tag, _UNBOUNDED)).text
        blockers = non_gsm7(normalise(whole))
        if not blockers:
            continue
        text = normalise(whole)
        stand_in = text.translate({ord(char): "?" for char in blockers})
        ucs2 = len(layout(text, choose_coding(tag, text)))
        gsm7 = len(layout(stand_in, choose_coding(tag, stand_in)))
        sent = (f"sent: {message.encoded.page_count} {message.encoded.coding.alphabet} "
                f"pages" + (f", without {', '.join(message.dropped)}" if message.dropped
                            else ""))
        notes.append(("render.text.ucs2",
                      f"{' '.join(blockers[:20])} {'is' if len(blockers) == 1 else 'are'} not "
                      f"in the GSM 7-bit alphabet: the whole {tag} text takes {ucs2} UCS-2 "
                      f"pages, {gsm7} in GSM-7 without them ({sent}); a language's table in "
                      "config/accessibility/gsm7-substitutions.yaml replaces letters, opt-in"))
    return tuple(notes)
