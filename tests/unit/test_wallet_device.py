"""The phone's side refuses what it must: tampering, wrong keys, expiry, replays; and
it geofences locally."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from wallet_support import INSIDE, OUTSIDE, example, phone, signing_key

from channels.eudi_wallet import jws
from channels.eudi_wallet.device import Device, RefusedError, inside
from channels.eudi_wallet.document import Utf8Budget, full_document
from channels.eudi_wallet.headers import topic
from channels.eudi_wallet.keys import SigningKey, b64url
from channels.eudi_wallet.webpush import Subscription, encrypt
from router.channel import Delivery

NOW = datetime.now(UTC)


def document(delivery: Delivery, now: datetime = NOW) -> dict[str, object]:
    return full_document(delivery, issuer="test", topic=topic(delivery.alert), now=now,
                         max_vertices=48, text_budget=Utf8Budget(8000))


def body_for(doc: dict[str, object], key: SigningKey, subscription: Subscription) -> bytes:
    return encrypt(jws.sign(doc, key).encode(), subscription)


async def open_one(device: Device, body: bytes, key: SigningKey, now: datetime = NOW
                   ) -> tuple[bool, dict[str, object]]:
    async def no_fetch(url: str) -> bytes:
        raise AssertionError(url)

    return await device.receive(body, jws.key_set({"keys": [key.public_jwk()]}), now, no_fetch)


async def test_a_phone_inside_shows_and_one_outside_does_not() -> None:
    key = signing_key()
    doc = document(example())
    for position, expected in ((INSIDE, True), (OUTSIDE, False)):
        device, subscription = phone(position)
        shown, opened = await open_one(device, body_for(doc, key, subscription), key)
        assert shown is expected
        assert opened["cap_identifier"] == "NL-VRR-2026-0042"


async def test_a_modified_payload_is_refused() -> None:
    key = signing_key()
    device, subscription = phone()
    header, _payload, signature = jws.sign(document(example()), key).split(".")
    forged = jws.canonical({**document(example()), "severity": "Minor"})
    body = encrypt(f"{header}.{b64url(forged)}.{signature}".encode(), subscription)
    with pytest.raises(RefusedError) as refused:
        await open_one(device, body, key)
    assert refused.value.reason == "signature"


async def test_a_document_signed_with_a_wrong_key_is_refused() -> None:
    trusted, wrong = signing_key(), signing_key()
    device, subscription = phone()
    with pytest.raises(RefusedError) as refused:
        await open_one(device, body_for(document(example()), wrong, subscription), trusted)
    assert refused.value.reason == "signature"


async def test_an_expired_alert_is_refused() -> None:
    key = signing_key()
    device, subscription = phone()
    now = datetime.now(UTC)  # the expiry below counts from the wall clock too
    doc = document(example(expires_in=timedelta(minutes=5)), now=now)
    body = body_for(doc, key, subscription)
    with pytest.raises(RefusedError) as refused:
        await open_one(device, body, key, now=now + timedelta(minutes=6))
    assert refused.value.reason == "expired"
    assert (await open_one(device, body, key, now=now))[0]  # the same message in time


async def test_a_replayed_identifier_is_refused() -> None:
    key = signing_key()
    device, subscription = phone()
    doc = document(example())
    assert (await open_one(device, body_for(doc, key, subscription), key))[0]
    resigned = body_for({**doc, "iat": int(NOW.timestamp()) + 5}, key, subscription)
    with pytest.raises(RefusedError) as refused:
        await open_one(device, resigned, key)
    assert refused.value.reason == "replay"


async def test_a_document_signed_in_the_future_is_refused() -> None:
    key = signing_key()
    device, subscription = phone()
    doc = document(example(), now=NOW + timedelta(hours=1))
    with pytest.raises(RefusedError) as refused:
        await open_one(device, body_for(doc, key, subscription), key)
    assert refused.value.reason == "stale"


async def test_a_body_for_another_phone_is_refused() -> None:
    key = signing_key()
    device, _ = phone()
    _other, other_subscription = phone()
    with pytest.raises(RefusedError) as refused:
        await open_one(device, body_for(document(example()), key, other_subscription), key)
    assert refused.value.reason == "decrypt"


async def test_update_replaces_and_cancel_withdraws_on_the_phone() -> None:
    key = signing_key()
    device, subscription = phone()
    await open_one(device, body_for(document(example()), key, subscription), key)
    assert len(device.inbox) == 1
    update = example("nl-alert-fire-update.xml")
    shown, _ = await open_one(device, body_for(document(update), key, subscription), key)
    assert shown
    assert [d["msg_type"] for d in device.inbox.values()] == ["Update"]
    cancel = example("nl-alert-fire-cancel.xml")
    shown, _ = await open_one(device, body_for(document(cancel), key, subscription), key)
    assert not shown
    assert device.inbox == {}


def test_geofence_circle_margin_and_no_shapes() -> None:
    circle = {"polygons": [], "circles": [{"center": [52.0, 5.0], "radius_km": 10.0}]}
    assert inside(circle, (52.05, 5.0))  # about 5.6 km from the centre
    assert not inside(circle, (52.2, 5.0))  # about 22 km
    assert inside(circle, (52.2, 5.0), margin_km=13)
    assert inside({"polygons": [], "circles": []}, OUTSIDE)  # geocodes only: everywhere
