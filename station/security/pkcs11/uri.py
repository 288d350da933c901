"""PKCS#11 URIs (RFC 7512): how the station's settings name a token, a key in it and its module.

``pkcs11:token=Factory%20CA;object=ca-key;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so``

The parser is strict (the grammar of RFC 7512 section 2.3): every attribute known, none twice,
percent-escapes well formed, values UTF-8 (``id`` excepted: raw bytes), so that a typo in a
configuration is an error naming the attribute rather than a token that is never found.

A URI carrying ``pin-value`` is refused: URIs travel through settings files, command lines and
process listings, and a PIN must travel through none of them (``station.security.pkcs11.pin``).
``pin-source`` may name a PIN file (``file:/path`` or ``/path``); ``module-name`` is refused,
since the station loads a module only from an absolute ``module-path`` it is given.
"""

from __future__ import annotations

import enum
import string
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from station.domain.errors import KeyStoreUriError

SCHEME: Final = "pkcs11:"
_UNRESERVED: Final = frozenset(string.ascii_letters + string.digits + "-._~")
_PATH_CHARACTERS: Final = _UNRESERVED | frozenset(":[]@!$'()*+,=")
_QUERY_CHARACTERS: Final = _PATH_CHARACTERS | frozenset("/?|")
_HEX: Final = frozenset(string.hexdigits)


class ObjectType(enum.StrEnum):
    """The ``type`` attribute: which kind of object ``object``/``id`` name."""

    PUBLIC = "public"
    PRIVATE = "private"
    CERTIFICATE = "cert"
    SECRET_KEY = "secret-key"
    DATA = "data"


# URI attribute name -> Pkcs11Uri field, in the order RFC 7512 lists them (and str() writes them).
_PATH_ATTRIBUTES: Final = {
    "token": "token",
    "manufacturer": "manufacturer",
    "serial": "serial",
    "model": "model",
    "library-manufacturer": "library_manufacturer",
    "library-description": "library_description",
    "library-version": "library_version",
    "slot-description": "slot_description",
    "slot-manufacturer": "slot_manufacturer",
    "slot-id": "slot_id",
    "object": "object",
    "type": "type",
    "id": "id",
}
_QUERY_ATTRIBUTES: Final = {"pin-source": "pin_source", "module-path": "module_path"}


@dataclass(frozen=True)
class Pkcs11Uri:
    """A parsed PKCS#11 URI. ``None`` means the attribute is absent (matches anything)."""

    token: str | None = None
    manufacturer: str | None = None
    serial: str | None = None
    model: str | None = None
    library_manufacturer: str | None = None
    library_description: str | None = None
    library_version: str | None = None
    slot_description: str | None = None
    slot_manufacturer: str | None = None
    slot_id: int | None = None
    object: str | None = None
    type: ObjectType | None = None
    id: bytes | None = None
    pin_source: Path | None = None  # a PIN file, checked when it is read
    module_path: Path | None = None

    def with_object(self, label: str, object_type: ObjectType, object_id: bytes | None = None) -> Pkcs11Uri:
        """The same token, naming one object (the URI the settings keep for a generated key)."""
        return replace(self, object=label, type=object_type, id=object_id)

    def token_description(self) -> str:
        """The token as messages name it: its label, else the URI's token attributes."""
        if self.token is not None:
            return f"token {self.token!r}"
        return f"the token of {self}"

    def __str__(self) -> str:
        """The URI, percent-encoded as RFC 7512 says (it never holds a PIN: see the module doc)."""
        path = [f"{name}={_encode(_text_of(getattr(self, field)), _PATH_CHARACTERS)}"
                for name, field in _PATH_ATTRIBUTES.items() if getattr(self, field) is not None]  # fmt: skip
        query = [f"{name}={_encode(_text_of(getattr(self, field)), _QUERY_CHARACTERS)}"
                 for name, field in _QUERY_ATTRIBUTES.items() if getattr(self, field) is not None]  # fmt: skip
        return SCHEME + ";".join(path) + ("?" + "&".join(query) if query else "")


def parse_pkcs11_uri(text: str) -> Pkcs11Uri:
    """Parse an RFC 7512 URI; KeyStoreUriError naming what is wrong (and never echoing a PIN)."""
    if text[: len(SCHEME)].lower() != SCHEME:
        raise KeyStoreUriError("a PKCS#11 URI starts with 'pkcs11:'")
    rest = text[len(SCHEME) :]
    path_text, _, query_text = rest.partition("?")
    values: dict[str, object] = {}
    if path_text:
        for position, part in enumerate(path_text.split(";"), start=1):
            name, value = _attribute(part, position, "path", _PATH_CHARACTERS)
            if name not in _PATH_ATTRIBUTES:
                raise KeyStoreUriError(_unknown(name, "path"))
            _put(values, _PATH_ATTRIBUTES[name], name, _path_value(name, value))
    if query_text:
        for position, part in enumerate(query_text.split("&"), start=1):
            name = part.partition("=")[0]
            if name == "pin-value":
                # Checked before the value is even decoded: nothing of it reaches a message.
                raise KeyStoreUriError(
                    "a PKCS#11 URI must not carry the PIN (pin-value): give it by prompt, a PIN file "
                    "readable only by the station's user, or a systemd credential"
                )
            name, value = _attribute(part, position, "query", _QUERY_CHARACTERS)
            if name not in _QUERY_ATTRIBUTES:
                if name == "module-name":
                    raise KeyStoreUriError("module-name is not supported: give the module's absolute module-path")
                raise KeyStoreUriError(_unknown(name, "query"))
            _put(values, _QUERY_ATTRIBUTES[name], name, _query_value(name, value))
    return Pkcs11Uri(**values)  # type: ignore[arg-type]  # each value was typed by its attribute's parser


def _attribute(part: str, position: int, where: str, allowed: frozenset[str]) -> tuple[str, bytes]:
    name, equals, value = part.partition("=")
    if not name or not equals:
        # Not echoed: a mistyped element might be a PIN.
        raise KeyStoreUriError(f"element {position} of the PKCS#11 URI's {where} is not 'name=value'")
    if not value:
        raise KeyStoreUriError(f"the PKCS#11 URI's attribute {name!r} has an empty value")
    return name, _decode(name, value, allowed)


def _decode(name: str, value: str, allowed: frozenset[str]) -> bytes:
    """Percent-decode strictly: a character outside the grammar, or a bad escape, is an error."""
    decoded = bytearray()
    index = 0
    while index < len(value):
        character = value[index]
        if character == "%":
            escape = value[index + 1 : index + 3]
            if len(escape) != 2 or not set(escape) <= _HEX:
                raise KeyStoreUriError(f"the PKCS#11 URI's attribute {name!r} has a bad percent-escape")
            decoded.append(int(escape, 16))
            index += 3
            continue
        if character not in allowed:
            raise KeyStoreUriError(
                f"the PKCS#11 URI's attribute {name!r} holds {character!r}, which must be percent-encoded "
                f"(a space is %20)"
            )
        decoded.extend(character.encode("ascii"))
        index += 1
    return bytes(decoded)


def _text(name: str, value: bytes) -> str:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyStoreUriError(f"the PKCS#11 URI's attribute {name!r} is not UTF-8 text") from None
    if "\x00" in text:
        raise KeyStoreUriError(f"the PKCS#11 URI's attribute {name!r} holds a NUL character")
    return text


def _path_value(name: str, value: bytes) -> object:
    if name == "id":
        return value
    text = _text(name, value)
    if name == "type":
        try:
            return ObjectType(text)
        except ValueError:
            choices = ", ".join(kind.value for kind in ObjectType)
            raise KeyStoreUriError(f"the PKCS#11 URI's type {text!r} is not one of {choices}") from None
    if name == "slot-id":
        if not text.isascii() or not text.isdigit():
            raise KeyStoreUriError(f"the PKCS#11 URI's slot-id {text!r} is not a number")
        return int(text)
    if name == "library-version":
        major, dot, minor = text.partition(".")
        if not (major.isascii() and major.isdigit()) or (dot and not (minor.isascii() and minor.isdigit())):
            raise KeyStoreUriError(f"the PKCS#11 URI's library-version {text!r} is not 'major' or 'major.minor'")
    return text


def _query_value(name: str, value: bytes) -> Path:
    text = _text(name, value)
    if name == "pin-source":
        if text.startswith("file:"):
            text = text[len("file:") :]
            if text.startswith("//"):  # file:///path; a host part is not supported
                host, _, rest = text[2:].partition("/")
                if host not in ("", "localhost"):
                    raise KeyStoreUriError("the PKCS#11 URI's pin-source names a file on another host")
                text = "/" + rest
        elif ":" in text.split("/", 1)[0]:
            raise KeyStoreUriError("the PKCS#11 URI's pin-source must be a PIN file (file:/path or /path)")
    path = Path(text)
    if not path.is_absolute():
        raise KeyStoreUriError(f"the PKCS#11 URI's {name} must be an absolute path, not {text!r}")
    return path


def _put(values: dict[str, object], field: str, name: str, value: object) -> None:
    if field in values:
        raise KeyStoreUriError(f"the PKCS#11 URI names {name!r} twice")
    values[field] = value


def _unknown(name: str, where: str) -> str:
    known = _PATH_ATTRIBUTES if where == "path" else _QUERY_ATTRIBUTES
    return f"the PKCS#11 URI's {where} attribute {name!r} is unknown or unsupported (known: {', '.join(known)})"


def _text_of(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def _encode(value: bytes, allowed: frozenset[str]) -> str:
    return "".join(chr(byte) if chr(byte) in allowed else f"%{byte:02X}" for byte in value)
