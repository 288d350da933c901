"""Key custody settings: whether the station runs in production, and where its keys live.

``[custody]`` in ``station.toml``. A station in production refuses recipes that are not signed
(and approved, when the recipe asks for two people) by engineers of this station. Keys live
in files (small sites, the demo) or in a PKCS#11 token named by RFC 7512 URIs; a station
configured for a token never falls back to files. The token's PIN is never a setting: it
comes from a prompt, a file readable only by the station's user (``pin_file``), or systemd's
credentials (``pin_credential``, a name under ``$CREDENTIALS_DIRECTORY``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from station.domain.strict_toml import StrictTable, toml_quoted

MODES: Final = ("development", "production")
CUSTODY_KEYS: Final = (
    "mode", "pkcs11_module", "ca_key", "station_key", "vault_key", "pin_file", "pin_credential",
)  # fmt: skip


@dataclass(frozen=True)
class CustodySettings:
    """``ca_key``, ``station_key``, ``vault_key``: PKCS#11 URIs of the keys in the token (None:
    that key is a file in the data directory). ``pkcs11_module``: the token's PKCS#11 library
    (a URI's ``module-path`` may name it instead)."""

    mode: str = "development"
    pkcs11_module: Path | None = None
    ca_key: str | None = None
    station_key: str | None = None
    vault_key: str | None = None
    pin_file: Path | None = None
    pin_credential: str | None = None

    @property
    def production(self) -> bool:
        return self.mode == "production"

    @property
    def uses_token(self) -> bool:
        return any((self.ca_key, self.station_key, self.vault_key))


def parse_custody(top: StrictTable, base_dir: Path) -> CustodySettings:
    table = top.table("custody", CUSTODY_KEYS, required=False)
    if table is None:
        return CustodySettings()
    mode = (table.optional_string("mode") or "development").strip()
    if mode not in MODES:
        raise table.error("mode", f"must be one of {', '.join(MODES)}, not {mode!r}")

    def text(key: str) -> str | None:
        return (table.optional_string(key) or "").strip() or None

    def path(key: str) -> Path | None:
        given = text(key)
        if given is None:
            return None
        return Path(given) if Path(given).is_absolute() else base_dir / given

    for key in ("ca_key", "station_key", "vault_key"):
        uri = text(key)
        if uri is not None and not uri.startswith("pkcs11:"):
            raise table.error(key, "must be a PKCS#11 URI (pkcs11:token=...;object=...), or left out for a file key")
    return CustodySettings(
        mode=mode, pkcs11_module=path("pkcs11_module"), ca_key=text("ca_key"), station_key=text("station_key"),
        vault_key=text("vault_key"), pin_file=path("pin_file"), pin_credential=text("pin_credential"),
    )  # fmt: skip


def render_custody(custody: CustodySettings) -> list[str]:
    """The ``[custody]`` lines of the settings file (empty when every value is the default)."""
    if custody == CustodySettings():
        return []
    lines = ["", "[custody]  # production: signed recipes only; keys in a PKCS#11 token when URIs are given"]
    lines.append(f"mode = {toml_quoted(custody.mode)}")
    for key in CUSTODY_KEYS[1:]:
        value = getattr(custody, key)
        if value is not None:
            lines.append(f"{key} = {toml_quoted(str(value))}")
    return lines
