"""Where the station's keys live, and the one place that opens them: files, or a PKCS#11 token.

``[custody]`` in the settings (``station.config.custody``) names the keys that live in a
token by URI. For each such key the station opens the token (one logged-in session per token
and process, shared by every key in it) and never falls back to a file: a station set up for
a token whose token is absent stops with a clear error, even if a key file lies beside it.

* the station's signing key (audit chain, exports, chain head): ``station-key.pem``, or a token
  key (Ed25519 where the token has it, else EC P-256), made on first use like the file; its
  public half is written to ``station-key.pub`` so that verifying needs no token and no PIN;
* the factory CA: ``ca/ca-key.pem`` under a passphrase, or ``ca/ca-key.uri`` naming a token key
  (``station ca init --pkcs11 URI``);
* the vault's secret: a passphrase, or a random data key wrapped by an AES key in the token
  (``vault-key.wrapped`` in the data directory: useless without the token).

The PIN comes from the settings' PIN file or systemd credential, or from ``prompt`` when a
person is there to answer; it is never a setting, an argument or an environment variable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Final, Protocol

from station.config.custody import CustodySettings
from station.config.paths import StationPaths
from station.domain.errors import CaError, KeyStoreError, StationKeyError
from station.security.ca import load_ca
from station.security.certificates import CertificateAuthority
from station.security.keys import write_new_secret_file, write_public_file
from station.security.pkcs11.ca import load_token_ca, token_ca_uri
from station.security.pkcs11.keys import generate_signing_key, open_signing_key, preferred_signing_algorithm
from station.security.pkcs11.pin import pin_source_for
from station.security.pkcs11.token import TokenSession
from station.security.pkcs11.uri import Pkcs11Uri, parse_pkcs11_uri
from station.security.pkcs11.wrap import DataKey, generate_wrapping_key, open_wrapping_key
from station.security.station_key import StationPublicKey, load_or_create_station_key, load_station_key

STATION_PUBLIC_KEY_FILE: Final = "station-key.pub"
WRAPPED_VAULT_KEY_FILE: Final = "vault-key.wrapped"


class StationSigner(Protocol):
    """The station's signing key, wherever it lives (``StationKey`` or ``TokenSigningKey``)."""

    @property
    def public_key_fingerprint(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...

    def public_key_pem(self) -> str: ...

    def verify(self, data: bytes, signature: bytes) -> bool: ...


class KeyCustody:
    """Opens the station's keys where the settings put them (see the module's docstring)."""

    def __init__(
        self, settings: CustodySettings, paths: StationPaths, prompt: Callable[[str], str] | None = None
    ) -> None:
        self.settings = settings
        self._paths = paths
        self._prompt = prompt
        self._sessions: list[TokenSession] = []

    # ---- tokens ---------------------------------------------------------------------------------

    def session(self, uri: Pkcs11Uri, *, writable: bool = False) -> TokenSession:
        """The logged-in session on the token ``uri`` names, opened once and shared (a token
        takes one login per process: the station key, the CA and the vault share it)."""
        open_session = next((session for session in self._sessions if _names(uri, session)), None)
        if open_session is not None and (open_session.writable or not writable):
            return open_session
        if open_session is not None:  # a read-only session cannot make keys: log in again, writable
            self._sessions.remove(open_session)
            open_session.close()
        source = pin_source_for(
            uri, pin_file=self.settings.pin_file, credential=self.settings.pin_credential, prompt=self._prompt
        )
        opened = TokenSession.open(uri, source, module_path=self.settings.pkcs11_module, writable=writable)
        self._sessions.append(opened)
        return opened

    def close(self) -> None:
        for session in self._sessions:
            with contextlib.suppress(Exception):
                session.close()
        self._sessions.clear()

    # ---- the station's signing key ------------------------------------------------------------------

    def station_signer(self) -> StationSigner:
        """The key that seals the chain and signs exports; made on first use (file or token)."""
        uri_text = self.settings.station_key
        if uri_text is None:
            return load_or_create_station_key(self._paths.station_key_path)
        uri = _key_uri(uri_text, "station_key")
        label = uri.object or ""
        session = self.session(uri, writable=True)
        if session.exists(label):
            key = open_signing_key(session, label)
        else:
            key = generate_signing_key(session, label, preferred_signing_algorithm(session))
        self._keep_public_key(key.public_key_pem())
        return key

    def station_public_key(self) -> StationPublicKey:
        """The station key's public half, for verifying: no token and no PIN needed."""
        if self.settings.station_key is None:
            return load_station_key(self._paths.station_key_path).public_key
        path = self._paths.data_dir / STATION_PUBLIC_KEY_FILE
        try:
            return StationPublicKey.from_pem(path.read_bytes())
        except FileNotFoundError:
            raise StationKeyError(
                f"{path} does not exist: the station's token key is made the first time the station opens"
            ) from None

    def _keep_public_key(self, pem: str) -> None:
        path = self._paths.data_dir / STATION_PUBLIC_KEY_FILE
        if path.exists():
            if path.read_text(encoding="ascii") != pem:
                raise StationKeyError(f"{path} holds another key than the station's token key: refused")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        write_public_file(path, pem.encode("ascii"))

    # ---- the factory CA ------------------------------------------------------------------------------

    def ca_in_token(self) -> bool:
        return self.settings.ca_key is not None or token_ca_uri(self._paths.ca_dir) is not None

    def open_ca(self, passphrase: Callable[[], str]) -> CertificateAuthority:
        """The factory CA: through its token, or its key file decrypted with ``passphrase()``."""
        uri = token_ca_uri(self._paths.ca_dir)
        if uri is None and self.settings.ca_key is not None:
            raise CaError(
                f"this station keeps its CA key in a token ({self.settings.ca_key}) but {self._paths.ca_dir} holds "
                "no token CA: run station ca init --pkcs11 URI (a key file is never used instead)"
            )
        if uri is None:
            return load_ca(self._paths.ca_dir, passphrase())
        return load_token_ca(self._paths.ca_dir, self.session(uri))

    def ca_location(self) -> str:
        uri = token_ca_uri(self._paths.ca_dir)
        if uri is not None:
            return f"{uri.token_description()}, key {uri.object!r}"
        return f"file {self._paths.ca_dir / 'ca-key.pem'} (passphrase-encrypted)"

    # ---- the vault's secret ----------------------------------------------------------------------------

    @property
    def vault_in_token(self) -> bool:
        return self.settings.vault_key is not None

    def vault_secret(self, passphrase: Callable[[], str]) -> str:
        """What opens the vault: the passphrase, or the token-wrapped data key (made on first use)."""
        if self.settings.vault_key is None:
            return passphrase()
        uri = _key_uri(self.settings.vault_key, "vault_key")
        label = uri.object or ""
        path = self._paths.data_dir / WRAPPED_VAULT_KEY_FILE
        if path.exists():
            wrapped = path.read_bytes()
            return open_wrapping_key(self.session(uri), label).unwrap(wrapped).reveal().hex()
        session = self.session(uri, writable=True)
        wrapper = open_wrapping_key(session, label) if session.exists(label) else generate_wrapping_key(session, label)
        data_key = DataKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            write_new_secret_file(path, wrapper.wrap(data_key))
        except FileExistsError:  # another process made it first: use theirs
            return open_wrapping_key(session, label).unwrap(path.read_bytes()).reveal().hex()
        return data_key.reveal().hex()

    # ---- what the station says about its keys ---------------------------------------------------------

    def describe(self) -> dict[str, str]:
        """Where each key lives, for ``station ca show`` and ``station status`` (no secret)."""
        station = self.settings.station_key
        vault = self.settings.vault_key
        return {
            "mode": self.settings.mode,
            "station_key": f"token {station}" if station else f"file {self._paths.station_key_path}",
            "ca_key": self.ca_location(),
            "vault_key": f"token {vault} (data key wrapped in {WRAPPED_VAULT_KEY_FILE})" if vault else "passphrase",
        }


def _names(uri: Pkcs11Uri, session: TokenSession) -> bool:
    """Whether ``uri`` names the token ``session`` is logged in to (what it gives must match)."""
    module = uri.module_path or session.uri.module_path
    return (
        (uri.token is None or uri.token == session.label)
        and (uri.serial is None or uri.serial == session.serial)
        and (module is None or session.uri.module_path is None or module.resolve() == session.uri.module_path.resolve())
    )


def _key_uri(text: str, setting: str) -> Pkcs11Uri:
    uri = parse_pkcs11_uri(text)
    if uri.object is None:
        raise KeyStoreError(f"[custody] {setting} names no key: add ;object=LABEL to {uri.token_description()}")
    return uri
