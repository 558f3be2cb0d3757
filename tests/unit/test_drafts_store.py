"""Drafts in the store (``router.store.drafts``): saved, listed, replaced and removed by
their owner only, bounded per owner, and still there after the store is reopened."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.store import drafts as drafts_module
from router.store.drafts import TooManyDraftsError
from tests.stores import opened_stores

pytestmark = pytest.mark.usefixtures("store_backend")  # the store contract suite

FORM = {"status": "Exercise", "headline_nl-NL": "Hoog water <b>", "polygon": "1,2 3,4"}


async def test_a_draft_belongs_to_its_owner(tmp_path: Path) -> None:
    async with opened_stores(tmp_path) as stores:
        mine = await stores.drafts.create("demo/dev", "demo", "Hoog water", FORM)
        assert mine.version == 1
        assert mine.form == FORM
        assert await stores.drafts.get("demo/dev", mine.id) == mine
        # another principal neither sees, changes nor removes it
        assert await stores.drafts.get("demo/approver", mine.id) is None
        assert await stores.drafts.list("demo/approver") == []
        assert await stores.drafts.update("demo/approver", mine.id, "x", {}) is None
        assert not await stores.drafts.delete("demo/approver", mine.id)

        changed = await stores.drafts.update("demo/dev", mine.id, "Hoger water",
                                             {**FORM, "status": "Test"})
        assert changed is not None
        assert (changed.version, changed.title, changed.form["status"]) == (2, "Hoger water",
                                                                            "Test")
        second = await stores.drafts.create("demo/dev", "demo", "Brand", {})
        assert [d.id for d in await stores.drafts.list("demo/dev")] == [second.id, mine.id]
        assert await stores.drafts.delete("demo/dev", second.id)
        assert not await stores.drafts.delete("demo/dev", second.id)
        assert [d.id for d in await stores.drafts.list("demo/dev")] == [mine.id]
        url = stores.url if "postgresql" in stores.url else None
    async with opened_stores(tmp_path, url=url) as reopened:
        kept = await reopened.drafts.get("demo/dev", mine.id)
        assert kept is not None
        assert kept.form == {**FORM, "status": "Test"}


async def test_drafts_per_owner_are_bounded(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drafts_module, "MAX_DRAFTS_PER_OWNER", 2)
    async with opened_stores(tmp_path) as stores:
        await stores.drafts.create("demo/dev", "demo", "a", {})
        await stores.drafts.create("demo/dev", "demo", "b", {})
        with pytest.raises(TooManyDraftsError):
            await stores.drafts.create("demo/dev", "demo", "c", {})
        await stores.drafts.create("demo/approver", "demo", "a", {})  # its own bound
        assert len(await stores.drafts.list("demo/dev")) == 2
