"""Where a token's PIN comes from: never a command line, a URI or the environment.

Three sources, chosen by the caller (the station's settings say which):

- a prompt: a callback the front end supplies (the CLI's ``getpass``, the window's PIN dialog);
- a PIN file: owned by the station's user and readable by nobody else (``pin-source`` in the
  URI, or the settings), refused otherwise;
- a systemd credential: ``$CREDENTIALS_DIRECTORY/<name>`` (``LoadCredential=`` or
  ``LoadCredentialEncrypted=`` of the unit), which systemd keeps readable by the service only.

The PIN is a :class:`TokenPin` whose ``repr``/``str`` hide it and which cannot be pickled, so
that no log line, exception or traceback of the station holds it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

from station.domain.errors import TokenPinError
from station.security.keys import read_private_first_line
from station.security.pkcs11.uri import Pkcs11Uri

CREDENTIALS_VARIABLE: Final = "CREDENTIALS_DIRECTORY"
MAXIMUM_PIN_LENGTH: Final = 255


class TokenPin:
    """A token's PIN in memory. Its text is reachable only through :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise TokenPinError("the token PIN is empty")
        if len(value) > MAXIMUM_PIN_LENGTH or "\x00" in value:
            raise TokenPinError(f"the token PIN must be 1 to {MAXIMUM_PIN_LENGTH} characters without NUL")
        self._value = value

    def reveal(self) -> str:
        """The PIN, for the token's login only: never log, store or show it."""
        return self._value

    def __repr__(self) -> str:
        return "TokenPin(<hidden>)"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a token PIN cannot be pickled")


class PinSource(Protocol):
    """Gives the PIN of the token a URI names, or raises TokenPinError (without the PIN)."""

    def pin_for(self, uri: Pkcs11Uri) -> TokenPin: ...

    def describe(self) -> str:
        """Where the PIN comes from, for messages (``PIN file /etc/station/hsm.pin``)."""
        ...


@dataclass(frozen=True)
class PromptPinSource:
    """Asks a person: ``prompt`` gets a question naming the token and returns the PIN typed."""

    prompt: Callable[[str], str] = field(repr=False)

    def pin_for(self, uri: Pkcs11Uri) -> TokenPin:
        typed = self.prompt(f"PIN of {uri.token_description()}: ")
        if not typed:
            raise TokenPinError(f"no PIN was given for {uri.token_description()}; nothing was changed")
        return TokenPin(typed)

    def describe(self) -> str:
        return "a prompt"


@dataclass(frozen=True)
class FilePinSource:
    """A PIN file owned by the station's user, mode 0600 or stricter; the PIN on its first line."""

    path: Path

    def pin_for(self, uri: Pkcs11Uri) -> TokenPin:
        return TokenPin(read_private_first_line(self.path, what="token PIN file", error=TokenPinError))

    def describe(self) -> str:
        return f"the PIN file {self.path}"


@dataclass(frozen=True)
class SystemdCredentialPinSource:
    """The credential ``name`` that systemd put in ``$CREDENTIALS_DIRECTORY`` for the service.

    The directory and its files are systemd's (owned by root or the service user, depending on
    the version): only the mode is checked, and the file must sit in that directory itself.
    """

    name: str
    environment: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or self.name in (".", "..") or len(self.name) > 255:
            raise TokenPinError(f"{self.name!r} is not a systemd credential name (a plain file name)")

    def pin_for(self, uri: Pkcs11Uri) -> TokenPin:
        directory = self.environment.get(CREDENTIALS_VARIABLE, "")
        if not directory or not Path(directory).is_absolute():
            raise TokenPinError(
                f"no systemd credentials for {uri.token_description()}: ${CREDENTIALS_VARIABLE} is not set "
                f"(run the station as a service with LoadCredential={self.name}:…)"
            )
        path = Path(directory) / self.name
        pin = read_private_first_line(path, what="systemd credential", error=TokenPinError, check_owner=False)
        return TokenPin(pin)

    def describe(self) -> str:
        return f"the systemd credential {self.name!r}"


def pin_source_for(
    uri: Pkcs11Uri,
    *,
    pin_file: Path | None = None,
    credential: str | None = None,
    prompt: Callable[[str], str] | None = None,
) -> PinSource:
    """The one PIN source the settings and the URI allow; TokenPinError if none or several.

    Choosing is explicit rather than a fallback chain, so that a station configured for a
    credential never ends up asking a person, nor reads a file nobody meant.
    """
    chosen: list[PinSource] = []
    files = {path for path in (uri.pin_source, pin_file) if path is not None}
    if len(files) > 1:
        raise TokenPinError("the URI's pin-source and the settings' PIN file differ: give one")
    if files:
        chosen.append(FilePinSource(files.pop()))
    if credential is not None:
        chosen.append(SystemdCredentialPinSource(credential))
    if len(chosen) > 1:
        raise TokenPinError("give one PIN source for the token: a PIN file or a systemd credential, not both")
    if chosen:
        return chosen[0]
    if prompt is not None:
        return PromptPinSource(prompt)
    raise TokenPinError(
        f"no PIN source for {uri.token_description()}: give a PIN file, a systemd credential, or run where the "
        "station can ask for it"
    )
