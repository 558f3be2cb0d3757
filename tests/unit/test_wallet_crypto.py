"""RFC 8291 encryption, RFC 8292 VAPID and the JWS layer of the wallet channel."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st
from py_vapid.jwt import decode as decode_vapid
from wallet_support import phone, signing_key

from channels.eudi_wallet import jws
from channels.eudi_wallet.keys import b64url
from channels.eudi_wallet.webpush import MAX_PLAINTEXT, RECORD_SIZE, VapidSigner, decrypt, encrypt


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=MAX_PLAINTEXT))
def test_encrypted_payload_decrypts_with_the_subscription_keys(payload: bytes) -> None:
    device, subscription = phone()
    body = encrypt(payload, subscription)
    assert len(body) <= RECORD_SIZE
    assert decrypt(body, device.private_key, device.auth) == payload


def test_largest_payload_fills_exactly_one_record() -> None:
    _device, subscription = phone()
    assert len(encrypt(b"x" * MAX_PLAINTEXT, subscription)) == RECORD_SIZE
    with pytest.raises(ValueError, match="push limit"):
        encrypt(b"x" * (MAX_PLAINTEXT + 1), subscription)


def test_two_bodies_of_one_payload_differ() -> None:
    _device, subscription = phone()
    assert encrypt(b"same", subscription) != encrypt(b"same", subscription)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=182).filter(lambda p: not 16 <= p < 21),
       st.integers(min_value=0, max_value=7))
def test_any_flipped_bit_makes_decryption_fail(position: int, bit: int) -> None:
    """Salt, sender key and ciphertext are all bound by the GCM tag. (The record-size
    field, bytes 16-20, is not: RFC 8188 leaves it unauthenticated, and a changed size
    that still covers the one record decrypts the same.)"""
    device, subscription = phone()
    body = bytearray(encrypt(b"an alert" * 10, subscription))
    assert len(body) == 183
    body[position] ^= 1 << bit
    with pytest.raises(Exception):  # noqa: B017, PT011  (http_ece raises several types)
        decrypt(bytes(body), device.private_key, device.auth)


def test_another_subscription_cannot_decrypt() -> None:
    _device, subscription = phone()
    other, _ = phone()
    with pytest.raises(Exception):  # noqa: B017, PT011
        decrypt(encrypt(b"secret", subscription), other.private_key, other.auth)


def test_vapid_header_verifies_and_names_the_push_service() -> None:
    signer = VapidSigner(ec.generate_private_key(ec.SECP256R1()), "mailto:ops@tocsin.example")
    header = signer.header("https://push.example", now=1_800_000_000)
    token, key = (part.split("=", 1)[1] for part in header.removeprefix("vapid ").split(","))
    claims = decode_vapid(token, key)
    assert claims == {"aud": "https://push.example", "exp": 1_800_000_000 + 12 * 3600,
                      "sub": "mailto:ops@tocsin.example"}
    assert key == signer.public_key


def test_vapid_jwt_is_reused_until_an_hour_before_it_expires() -> None:
    signer = VapidSigner(ec.generate_private_key(ec.SECP256R1()), "mailto:ops@tocsin.example")
    first = signer.header("https://push.example", now=1_000_000)
    assert signer.header("https://push.example", now=1_000_000 + 10 * 3600) == first
    assert signer.header("https://push.example", now=1_000_000 + 11 * 3600 + 1) != first
    assert signer.header("https://other.example", now=1_000_000) != first


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4), max_leaves=12)


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_signed_documents_verify_to_themselves(document: dict[str, object]) -> None:
    key = signing_key()
    assert jws.verify(jws.sign(document, key), jws.key_set({"keys": [key.public_jwk()]})) \
        == document


def test_a_modified_payload_is_rejected() -> None:
    key = signing_key()
    header, payload, signature = jws.sign({"severity": "Minor"}, key).split(".")
    forged = jws.canonical({"severity": "Extreme"})
    with pytest.raises(jws.SignatureError):
        jws.verify(f"{header}.{b64url(forged)}.{signature}",
                   jws.key_set({"keys": [key.public_jwk()]}))
    assert payload != b64url(forged)


def test_a_token_signed_by_another_key_with_the_same_kid_is_rejected() -> None:
    trusted, attacker = signing_key(), signing_key()
    token = jws.sign({"a": 1}, attacker)
    impostor = {**trusted.public_jwk(), "kid": attacker.kid}
    with pytest.raises(jws.SignatureError):
        jws.verify(token, jws.key_set({"keys": [impostor]}))


def test_an_untrusted_key_is_rejected() -> None:
    with pytest.raises(jws.SignatureError, match="kid"):
        jws.verify(jws.sign({"a": 1}, signing_key()),
                   jws.key_set({"keys": [signing_key().public_jwk()]}))


def test_jwks_holds_no_private_part() -> None:
    entry = signing_key().public_jwk()
    assert "d" not in entry
    assert entry["alg"] == "ES256"
    assert entry["use"] == "sig"
