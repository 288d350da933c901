"""PKCS#11 URIs (RFC 7512): parsed strictly, never carrying a PIN."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.domain.errors import KeyStoreError, KeyStoreUriError
from station.security.pkcs11.uri import ObjectType, Pkcs11Uri, parse_pkcs11_uri


def test_the_rfc_examples_parse_with_percent_decoding() -> None:
    uri = parse_pkcs11_uri(
        "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;"
        "model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91"
        "?pin-source=file:/etc/token_pin"
    )
    assert uri.token == "The Software PKCS#11 Softtoken"
    assert uri.manufacturer == "Snake Oil, Inc."
    assert uri.model == "1.0"
    assert uri.object == "my-certificate"
    assert uri.type is ObjectType.CERTIFICATE
    assert uri.id == bytes.fromhex("69953e5cf4bdec91")
    assert uri.pin_source == Path("/etc/token_pin")
    assert uri.module_path is None


def test_module_path_slot_and_utf8_labels() -> None:
    uri = parse_pkcs11_uri(
        "PKCS11:token=Linie%203%20%C3%BCber%20CA;slot-id=7;library-version=2.6;object=ca;type=private"
        "?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/station/hsm.pin"
    )
    assert uri.token == "Linie 3 über CA"
    assert uri.slot_id == 7
    assert uri.library_version == "2.6"
    assert uri.type is ObjectType.PRIVATE
    assert uri.module_path == Path("/usr/lib/softhsm/libsofthsm2.so")
    assert uri.pin_source == Path("/run/station/hsm.pin")


def test_str_encodes_back_to_an_equal_uri() -> None:
    uri = Pkcs11Uri(
        token="Factory CA; line 3",
        object="ca/key",
        type=ObjectType.PRIVATE,
        id=b"\x00\xff",
        module_path=Path("/usr/lib/softhsm/libsofthsm2.so"),
    )
    text = str(uri)
    assert text == (
        "pkcs11:token=Factory%20CA%3B%20line%203;object=ca%2Fkey;type=private;id=%00%FF"
        "?module-path=/usr/lib/softhsm/libsofthsm2.so"
    )
    assert parse_pkcs11_uri(text) == uri


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("token=x", "starts with 'pkcs11:'"),
        ("pkcs11:token=a;token=b", "names 'token' twice"),
        ("pkcs11:token=a%2", "bad percent-escape"),
        ("pkcs11:token=a%zz", "bad percent-escape"),
        ("pkcs11:token=My Token", "must be percent-encoded"),
        ("pkcs11:token=a/b", "must be percent-encoded"),
        ("pkcs11:colour=blue", "'colour' is unknown"),
        ("pkcs11:x-vendor=1", "'x-vendor' is unknown"),
        ("pkcs11:token", "element 1 of the PKCS#11 URI's path is not 'name=value'"),
        ("pkcs11:token=", "'token' has an empty value"),
        ("pkcs11:type=secret", "type 'secret' is not one of"),
        ("pkcs11:slot-id=two", "slot-id 'two' is not a number"),
        ("pkcs11:library-version=2.x", "library-version"),
        ("pkcs11:token=%FF%FE", "'token' is not UTF-8"),
        ("pkcs11:token=a%00b", "NUL"),
        ("pkcs11:token=a?module-path=libsofthsm2.so", "must be an absolute path"),
        ("pkcs11:token=a?module-name=softhsm2", "module-name is not supported"),
        ("pkcs11:token=a?pin-source=|/usr/bin/askpin", "must be an absolute path"),
        ("pkcs11:token=a?pin-source=https://example.com/pin", "must be a PIN file"),
        ("pkcs11:token=a?pin-source=file://otherhost/pin", "on another host"),
        ("pkcs11:token=a?module-path=/a&module-path=/b", "twice"),
    ],
)
def test_malformed_uris_are_refused_with_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(KeyStoreUriError, match=message.replace("(", r"\(").replace("|", r"\|")) as caught:
        parse_pkcs11_uri(text)
    assert isinstance(caught.value, KeyStoreError) and caught.value.code == "KEY_STORE_URI"


@pytest.mark.parametrize(
    "text",
    [
        "pkcs11:token=a?pin-value=731902",
        "pkcs11:token=a?module-path=/usr/lib/x.so&pin-value=731902",
        "pkcs11:token=a?pin-value=%37%33%31%39%30%32",
        "pkcs11:token=a?pin-value=731902&pin-value=731902",
        "pkcs11:token=a?pin-value",
    ],
)
def test_a_pin_in_the_uri_is_refused_and_never_repeated(text: str) -> None:
    with pytest.raises(KeyStoreUriError, match="must not carry the PIN") as caught:
        parse_pkcs11_uri(text)
    assert "731902" not in str(caught.value) and "731902" not in repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_a_stray_element_in_the_query_is_not_echoed() -> None:
    with pytest.raises(KeyStoreUriError, match="element 1 of the PKCS#11 URI's query") as caught:
        parse_pkcs11_uri("pkcs11:token=a?731902")
    assert "731902" not in str(caught.value)
