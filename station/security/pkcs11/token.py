"""A logged-in session on one PKCS#11 token, and the module it runs in.

A module is loaded once per process and initialised without OS locking (python-pkcs11 passes
no ``CK_C_INITIALIZE_ARGS``), so the module may assume one thread at a time: every call into it
goes through :meth:`TokenSession.run`, which holds the module's lock. The module is finalised
when its last session closes, so that the next open reads its configuration again (SoftHSM2
reads ``SOFTHSM2_CONF`` at initialisation).

Errors name the module, the token and the PIN's source, never the PIN: python-pkcs11's own
messages are not passed on (some repeat the search template), only the kind of failure.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pkcs11
from pkcs11 import Attribute, Mechanism, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11

from station.domain.errors import KeyStoreError, TokenKeyNotFoundError, TokenNotFoundError, TokenPinError
from station.security.pkcs11.pin import PinSource
from station.security.pkcs11.uri import Pkcs11Uri

if TYPE_CHECKING:  # the loaded module's class; pkcs11.lib() is the function that loads one
    from pkcs11._pkcs11 import lib as loaded_library

T = TypeVar("T")

_WRONG_PIN = (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange)
_GONE = (p11.DeviceRemoved, p11.TokenNotPresent, p11.SessionClosed, p11.SessionHandleInvalid, p11.DeviceError)


@dataclass
class _Module:
    path: str
    library: loaded_library
    lock: threading.RLock
    users: int = 0


_MODULES: dict[str, _Module] = {}
_MODULES_LOCK = threading.Lock()


def _check_module_path(path: Path) -> str:
    """The module's path, refused unless absolute, a regular file, and not writable by others
    (loading a module runs its code in the station)."""
    if not path.is_absolute():
        raise KeyStoreError(f"the PKCS#11 module path {path} is not absolute")
    try:
        status = path.stat()
    except OSError as error:
        raise KeyStoreError(f"the PKCS#11 module {path} cannot be found: {error.strerror or error}") from None
    if not stat.S_ISREG(status.st_mode):
        raise KeyStoreError(f"the PKCS#11 module {path} is not a file")
    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        mode = stat.S_IMODE(status.st_mode)
        raise KeyStoreError(f"the PKCS#11 module {path} may be changed by others (mode {mode:04o})")
    return str(path)


def _acquire_module(path: Path) -> _Module:
    key = _check_module_path(path)
    with _MODULES_LOCK:
        module = _MODULES.get(key)
        if module is None:
            try:
                library = pkcs11.lib(key)  # initialises it (again, after a finalise)
            except p11.PKCS11Error as error:
                raise KeyStoreError(f"{key} is not a PKCS#11 module that loads: {_load_reason(error)}") from None
            module = _Module(key, library, threading.RLock())
            _MODULES[key] = module
        module.users += 1
        return module


def _release_module(module: _Module) -> None:
    with _MODULES_LOCK:
        module.users -= 1
        if module.users > 0:
            return
        del _MODULES[module.path]
        with module.lock, contextlib.suppress(p11.PKCS11Error):
            module.library.finalize()  # closing anyway: nothing of the station's is left in it


def _load_reason(error: p11.PKCS11Error) -> str:
    text = str(error)
    return text.rsplit(": ", 1)[-1] if text else type(error).__name__


class TokenSession:
    """One session on one token, logged in as its user. Share it: a token takes one login per
    process, so a second :meth:`open` of the same token in the process is refused."""

    def __init__(
        self,
        module: _Module,
        token: pkcs11.Token,
        session: pkcs11.Session,
        uri: Pkcs11Uri,
        mechanisms: frozenset[Mechanism],
    ) -> None:
        self._module = module
        self._token = token
        self._session: pkcs11.Session | None = session
        self.uri = uri
        self.label = token.label
        self.serial = _text(token.serial)
        self._mechanisms = mechanisms

    @classmethod
    def open(
        cls, uri: Pkcs11Uri, pin_source: PinSource, *, module_path: Path | None = None, writable: bool = False
    ) -> TokenSession:
        """Find the token the URI names and log in with the PIN from ``pin_source``.

        The module is the URI's ``module-path`` else ``module_path``; the PIN is asked for only
        once the token is found, so that a missing token never costs a PIN prompt.
        """
        path = uri.module_path or module_path
        if path is None:
            raise KeyStoreError(f"no PKCS#11 module for {uri.token_description()}: give module-path")
        module = _acquire_module(path)
        try:
            with module.lock:
                token = _find_token(module, uri)
                described = f"token {token.label!r}"
                try:
                    mechanisms = frozenset(token.slot.get_mechanisms())
                except p11.PKCS11Error as error:
                    raise KeyStoreError(f"cannot list what {described} can do: {type(error).__name__}") from None
            pin = pin_source.pin_for(uri)
            with module.lock:
                try:
                    session = token.open(rw=writable, user_pin=pin.reveal())
                except _WRONG_PIN:
                    raise TokenPinError(f"wrong PIN for {described} (from {pin_source.describe()})") from None
                except (p11.PinLocked, p11.PinExpired):
                    raise TokenPinError(
                        f"the PIN of {described} is locked or expired: its security officer must reset it"
                    ) from None
                except p11.UserAlreadyLoggedIn:
                    raise KeyStoreError(f"{described} is open already in this process: use that session") from None
                except p11.PKCS11Error as error:
                    raise KeyStoreError(f"cannot log in to {described}: {type(error).__name__}") from None
            # The URI the settings keep: this very token (label and serial), the module, no PIN source.
            token_uri = replace(
                uri,
                token=token.label,
                serial=_text(token.serial) or None,
                object=None,
                type=None,
                id=None,
                pin_source=None,
                module_path=Path(module.path),
            )
            return cls(module, token, session, token_uri, mechanisms)
        except BaseException:
            _release_module(module)
            raise

    @property
    def writable(self) -> bool:
        return self._live().rw

    def supports(self, *mechanisms: Mechanism) -> bool:
        """Whether the token's slot offers every one of ``mechanisms``."""
        return set(mechanisms) <= self._mechanisms

    def run(self, operation: Callable[[pkcs11.Session], T], *, doing: str) -> T:
        """``operation(session)`` under the module's lock; a token failure is a KeyStoreError
        naming the token and ``doing`` (what was being done), never the library's message."""
        with self._module.lock:
            session = self._live()
            try:
                return operation(session)
            except _GONE:
                raise KeyStoreError(f"token {self.label!r} is gone (removed, session lost) while {doing}") from None
            except p11.PKCS11Error as error:
                raise KeyStoreError(f"token {self.label!r} refused {doing}: {type(error).__name__}") from None

    def find(self, object_class: ObjectClass, label: str) -> pkcs11.types.Object:
        """The one object of a class with that label; TokenKeyNotFoundError if none, KeyStoreError if several."""

        def search(session: pkcs11.Session) -> list[pkcs11.types.Object]:
            return list(session.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: label}))

        found = self.run(search, doing=f"looking for {label!r}")
        kind = object_class.name.lower().replace("_", " ")
        if not found:
            raise TokenKeyNotFoundError(f"token {self.label!r} has no {kind} labelled {label!r}")
        if len(found) > 1:
            raise KeyStoreError(f"token {self.label!r} has {len(found)} objects of class {kind} labelled {label!r}")
        return found[0]

    def exists(self, label: str) -> bool:
        """Whether any object of the token has this label (a key is never created twice)."""
        return bool(self.run(lambda session: list(session.get_objects({Attribute.LABEL: label})), doing="searching"))

    def close(self) -> None:
        """Log out (closing the last session does) and let the module go; idempotent."""
        with self._module.lock:
            session, self._session = self._session, None
            if session is None:
                return
            with contextlib.suppress(p11.PKCS11Error):
                session.close()  # a token that is gone has no session to close
        _release_module(self._module)

    def __enter__(self) -> TokenSession:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self._session is not None else "closed"
        return f"TokenSession(token={self.label!r}, serial={self.serial!r}, {state})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a token session cannot be pickled")

    def _live(self) -> pkcs11.Session:
        if self._session is None:
            raise KeyStoreError(f"the session on token {self.label!r} is closed")
        return self._session


def _find_token(module: _Module, uri: Pkcs11Uri) -> pkcs11.Token:
    library = module.library
    if not _library_matches(library, uri):
        raise TokenNotFoundError(f"the module {module.path} is not the library that {uri} names")
    try:
        tokens = [token for token in library.get_tokens() if token.flags & TokenFlag.TOKEN_INITIALIZED]
    except p11.PKCS11Error as error:
        raise KeyStoreError(f"cannot list the tokens of {module.path}: {type(error).__name__}") from None
    matching = [token for token in tokens if _token_matches(token, uri)]
    if len(matching) == 1:
        return matching[0]
    if not matching:
        present = ", ".join(repr(token.label) for token in tokens) or "none"
        raise TokenNotFoundError(f"no {uri.token_description()} in {module.path} (tokens present: {present})")
    raise TokenNotFoundError(f"{len(matching)} tokens match {uri}: name one by its serial")


def _library_matches(library: loaded_library, uri: Pkcs11Uri) -> bool:
    version = "{}.{}".format(*library.library_version)
    wanted_version = uri.library_version
    if wanted_version is not None and "." not in wanted_version:
        version = version.split(".")[0]
    return all(
        wanted is None or wanted == found
        for wanted, found in (
            (uri.library_manufacturer, library.manufacturer_id.strip()),
            (uri.library_description, library.library_description.strip()),
            (wanted_version, version),
        )
    )


def _token_matches(token: pkcs11.Token, uri: Pkcs11Uri) -> bool:
    slot = token.slot
    return all(
        wanted is None or wanted == found
        for wanted, found in (
            (uri.token, token.label),
            (uri.serial, _text(token.serial)),
            (uri.manufacturer, token.manufacturer_id.strip()),
            (uri.model, token.model.strip()),
            (uri.slot_description, slot.slot_description.strip()),
            (uri.slot_manufacturer, slot.manufacturer_id.strip()),
            (uri.slot_id, slot.slot_id),
        )
    )


def _text(value: bytes | str) -> str:
    text = value.decode("ascii", errors="replace") if isinstance(value, bytes) else value
    return text.strip().rstrip("\x00")


def module_is_loaded(path: Path) -> bool:
    """Whether a session of this process holds the module (the tests check that closing frees it)."""
    with _MODULES_LOCK:
        return os.fspath(path) in _MODULES
