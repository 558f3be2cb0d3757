"""What people read is the authority's: times as written, one language per form."""

from __future__ import annotations

from datetime import UTC, datetime

from wallet_support import example

from channels.eudi_wallet.document import Utf8Budget, full_document
from channels.eudi_wallet.headers import topic

NOW = datetime.now(UTC)


def test_wallet_document_keeps_the_offsets_the_authority_wrote() -> None:
    delivery = example("nl-alert-fire-update.xml")
    doc = full_document(delivery, issuer="t", topic=topic(delivery.alert), now=NOW,
                        max_vertices=48, text_budget=Utf8Budget(8000))
    assert doc["sent"] == "2026-11-25T14:40:00+01:00"
    assert doc["references"] == [
        "meldkamer@vr-rr.example.nl,NL-VRR-2026-0042,2026-11-25T14:05:00+01:00"]
