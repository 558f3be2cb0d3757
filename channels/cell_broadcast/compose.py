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
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.cell_broadcast.alphabet import is_gsm7
from channels.cell_broadcast.budget import CbsBudget, units
from channels.cell_broadcast.coding import GSM7_PER_PAGE, choose_coding, primary_language
from channels.cell_broadcast.config import Deployment
from channels.cell_broadcast.identifiers import additional_language_id, message_identifier
from channels.cell_broadcast.pages import EncodedMessage, encode, normalise
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


def _whole(variants: Variants, tag: str, pages: int) -> tuple[str, tuple[str, ...]]:
    budget = CbsBudget(tag, pages)
    fitted = variants.fit(tag, budget)
    if not fitted.fits:
        raise _too_long([(fitted, budget)])
    if not fitted.text.strip():
        raise PermanentError(f"no text in language {tag}", FailureReason.INVALID_INPUT)
    return _clean(fitted), fitted.dropped


def _bilingual(variants: Variants, first: str, second: str, deployment: Deployment,
               force_ucs2: bool) -> tuple[str, tuple[str, ...]] | None:
    """The composed text, or None when it only fits as UCS-2 and was measured as GSM-7."""
    languages, pages = deployment.languages, deployment.max_pages
    total = pages * GSM7_PER_PAGE
    separator = CbsBudget(first, pages, force_ucs2).cost("." + languages.separator) - 1
    share = int(total * languages.secondary_share)
    slack = 0
    for _ in range(4):  # page-boundary effects can cost a few units; bounded re-tries
        second_budget = CbsBudget(second, pages, force_ucs2, reserve=total - share + slack)
        secondary = variants.fit(second, second_budget)
        first_budget = CbsBudget(first, pages, force_ucs2,
                                 reserve=secondary.cost + separator + slack)
        primary = variants.fit(first, first_budget)
        second_budget = CbsBudget(second, pages, force_ucs2,
                                  reserve=primary.cost + separator + slack)
        secondary = variants.fit(second, second_budget)
        if not (primary.fits and secondary.fits):
            raise _too_long([(primary, first_budget), (secondary, second_budget)])
        text = _clean(primary) + languages.separator + _clean(secondary)
        if not force_ucs2 and not is_gsm7(text):
            return None
        whole = CbsBudget(first, pages, force_ucs2)
        if whole.cost(text) <= whole.limit:
            return text, tuple(f"{first}:{d}" for d in primary.dropped) + tuple(
                f"{second}:{d}" for d in secondary.dropped)
        slack += whole.cost(text) - whole.limit
    raise PermanentError("the two languages do not fit one cell broadcast message",
                         FailureReason.TOO_LONG)


def _message(slot: str, message_id: int, tags: tuple[str, ...], text: str,
             dropped: tuple[str, ...]) -> PlannedMessage:
    coding = choose_coding(tags[0], text)
    return PlannedMessage(slot, message_id, tags, text, encode(text, coding), dropped)


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
    if second is None or second == first or languages.mode == "single":
        text, dropped = _whole(variants, first, deployment.max_pages)
        return [_message("main", message_id, (first,), text, dropped)]
    if languages.mode == "separate":
        return _separate(variants, (first, second), message_id, deployment)
    composed = (_bilingual(variants, first, second, deployment, force_ucs2=False)
                or _bilingual(variants, first, second, deployment, force_ucs2=True))
    if composed is None:  # cannot happen: the UCS-2 pass never returns None
        raise PermanentError("no bilingual text", FailureReason.INTERNAL)
    text, dropped = composed
    coding = choose_coding(first, text)
    return [PlannedMessage("main", message_id, (first, second), text, encode(text, coding),
                           dropped)]


def _separate(variants: Variants, tags: tuple[str, str], message_id: int,
              deployment: Deployment) -> list[PlannedMessage]:
    twin = additional_language_id(message_id)
    if twin is None:
        raise PermanentError(f"message identifier {message_id} has no additional-language "
                             "twin; broadcast the languages together (mode bilingual)",
                             FailureReason.CONFIGURATION)
    messages = []
    for slot, tag, ident in (("main", tags[0], message_id), ("additional", tags[1], twin)):
        text, dropped = _whole(variants, tag, deployment.max_pages)
        messages.append(_message(slot, ident, (tag,), text, dropped))
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
        alphabet=message.encoded.coding.alphabet) for message in planned]
