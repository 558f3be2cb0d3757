"""``/api/v1/drafts``: compose forms saved to finish later, by the principal who saves them.

Stage: ingest (HTTP). A draft is the console's form as ``{field: text}``, stored in the
alert store's database (``router.store.drafts``) so that it survives a closed tab or a
change of shift. Why drafts never touch the alert path: a draft is not CAP, is not
validated, is never planned or sent, and only its owner (the principal id of the key)
reads, replaces or deletes it; another key gets 404, as for a draft that does not exist.
Submitting is still ``POST /api/v1/alerts`` with the document, checked as any other.

Saving is not an entry of the audit trail: the console saves on every pause in typing,
and a draft changes nothing anyone receives; the alert made from it is audited when it
is submitted. The key needs ``submit`` (who may not issue alerts has nothing to draft).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field, ValidationError

from router.http.problems import ProblemError
from router.ingest.context import CONTEXT, IngestContext
from router.ingest.schemas import _Out
from router.store.drafts import Draft, DraftStore, TooManyDraftsError
from router.trust import Principal, Role

MAX_DRAFT_BYTES = 256 * 1024
"""A draft body above this is refused (413): a compose form is a few kilobytes, and the
CAP texts a channel can carry are far shorter."""
MAX_FIELDS = 100
MAX_FIELD_NAME = 64


class DraftIn(_Out):
    title: str = Field(default="", max_length=200,
                       description="how the draft is listed (the console sends a headline)")
    form: dict[str, str] = Field(description="the compose form: field name -> text",
                                 max_length=MAX_FIELDS)


class DraftOut(_Out):
    id: str
    title: str
    form: dict[str, str]
    version: int = Field(description="1 when first saved, +1 per change")
    created_at: str
    updated_at: str


class DraftList(_Out):
    items: list[DraftOut] = Field(description="the key's drafts, the latest changed first")


def _out(draft: Draft) -> DraftOut:
    return DraftOut(id=draft.id, title=draft.title, form=draft.form, version=draft.version,
                    created_at=draft.created_at, updated_at=draft.updated_at)


def _json(model: _Out, status: int = 200) -> web.Response:
    return web.Response(status=status, body=model.model_dump_json(),
                        content_type="application/json")


def _not_found(draft_id: str) -> ProblemError:
    return ProblemError(404, "draft.not-found", "No such draft",
                        f"this key has no draft {draft_id!r}")


async def _caller(request: web.Request) -> tuple[DraftStore, Principal]:
    ctx: IngestContext = request.app[CONTEXT]
    principal = await ctx.auth.authenticate(request.headers.get("Authorization"))
    ctx.auth.require(principal, Role.SUBMIT)
    if ctx.drafts is None:
        raise ProblemError(404, "draft.unavailable", "No draft store",
                           "this service keeps no drafts")
    return ctx.drafts, principal


async def _body(request: web.Request) -> DraftIn:
    if (request.content_length or 0) > MAX_DRAFT_BYTES:
        raise _too_large()
    raw = await request.read()
    if len(raw) > MAX_DRAFT_BYTES:
        raise _too_large()
    try:
        body = DraftIn.model_validate_json(raw)
    except ValidationError as exc:
        raise ProblemError(400, "draft.bad-body", "Bad draft",
                           'send JSON like {"title": "...", "form": {"field": "text"}}; '
                           + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                       for e in exc.errors()[:5])) from exc
    long_names = [name for name in body.form if len(name) > MAX_FIELD_NAME]
    if long_names:
        raise ProblemError(400, "draft.bad-body", "Bad draft",
                           f"field names are at most {MAX_FIELD_NAME} characters")
    return body


def _too_large() -> ProblemError:
    return ProblemError(413, "draft.too-large", "Draft too large",
                        f"a draft is at most {MAX_DRAFT_BYTES} bytes of JSON")


async def create_draft(request: web.Request) -> web.Response:
    drafts, principal = await _caller(request)
    body = await _body(request)
    try:
        made = await drafts.create(principal.id, principal.authority, body.title, body.form)
    except TooManyDraftsError as exc:
        raise ProblemError(409, "draft.too-many", "Too many drafts",
                           f"{exc}; delete drafts no longer needed") from exc
    response = _json(_out(made), 201)
    response.headers["Location"] = f"/api/v1/drafts/{made.id}"
    return response


async def list_drafts(request: web.Request) -> web.Response:
    drafts, principal = await _caller(request)
    return _json(DraftList(items=[_out(d) for d in await drafts.list(principal.id)]))


async def get_draft(request: web.Request) -> web.Response:
    drafts, principal = await _caller(request)
    draft_id = request.match_info["draft_id"]
    found = await drafts.get(principal.id, draft_id)
    if found is None:
        raise _not_found(draft_id)
    return _json(_out(found))


async def replace_draft(request: web.Request) -> web.Response:
    drafts, principal = await _caller(request)
    draft_id = request.match_info["draft_id"]
    body = await _body(request)
    changed = await drafts.update(principal.id, draft_id, body.title, body.form)
    if changed is None:
        raise _not_found(draft_id)
    return _json(_out(changed))


async def delete_draft(request: web.Request) -> web.Response:
    drafts, principal = await _caller(request)
    draft_id = request.match_info["draft_id"]
    if not await drafts.delete(principal.id, draft_id):
        raise _not_found(draft_id)
    return web.Response(status=204)
