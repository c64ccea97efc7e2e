"""The key format, asserted once here; elsewhere tests derive keys with the code's key function."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spillway_core.keys import (
    KeyComponentRejected,
    Tenant,
    clean_id,
    dedupe_key,
    effect_marker_pk,
    instance_host,
    is_valid_key,
    lead_pk,
    message_pk,
    occurrence_id,
)

TENANT = Tenant("emailbison", "send.example-outreach.com", "12")


def test_the_dedupe_key_format() -> None:
    assert dedupe_key(TENANT, "EMAIL_SENT", occurrence_id("884512")) == (
        "emailbison:send.example-outreach.com:12:EMAIL_SENT:884512"
    )
    assert dedupe_key(Tenant("inboxxia", "", "a:b"), "LEAD_INTERESTED", occurrence_id("5#6", "reply")) == (
        "inboxxia::a%3Ab:LEAD_INTERESTED:reply-5%236"
    )
    assert message_pk(TENANT, "OUT", "SE", "884512") == "WS#emailbison:send.example-outreach.com:12#MSG#OUT#SE#884512"
    assert lead_pk(TENANT, "jane@x.example").startswith("WS#emailbison:send.example-outreach.com:12#LEAD#")


_COMPONENT = st.text(min_size=1, max_size=12)
_TUPLE = st.tuples(_COMPONENT, st.text(max_size=12), _COMPONENT, _COMPONENT, _COMPONENT)


def _key(parts: tuple[str, str, str, str, str]) -> str:
    provider, instance, workspace, event_type, occurrence = parts
    return dedupe_key(Tenant(provider, instance, workspace), event_type, occurrence_id(occurrence))


@given(_TUPLE, _TUPLE)
def test_different_components_never_give_the_same_key(a: tuple[str, ...], b: tuple[str, ...]) -> None:
    nfc = [tuple(unicodedata.normalize("NFC", part) for part in t) for t in (a, b)]
    assert (_key(a) == _key(b)) == (nfc[0] == nfc[1])  # type: ignore[arg-type]


@given(_TUPLE)
def test_every_key_is_valid_for_alerts_and_fits_dynamodb(parts: tuple[str, str, str, str, str]) -> None:
    key = _key(parts)

    assert is_valid_key(key)
    assert len(effect_marker_pk(key).encode()) <= 2048


def test_nfc_and_nfd_are_one_id() -> None:
    assert clean_id("caf\u00e9") == clean_id("cafe\u0301")


@pytest.mark.parametrize("bad", ["", " ", "a b", "a\u0000", "a\u200b", "a\ufffd", "x" * 65])
def test_ids_outside_the_rules_are_rejected(bad: str) -> None:
    with pytest.raises(KeyComponentRejected):
        clean_id(bad)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        (None, ""),
        ("https://Send.Example.com/x", "send.example.com"),
        ("send.example.com", "send.example.com"),
        ("https://send.example.com:443", "send.example.com"),
        ("http://send.example.com:8080", "send.example.com:8080"),
    ],
)
def test_instance_host(url: str | None, host: str) -> None:
    assert instance_host(url) == host
