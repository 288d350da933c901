"""A SoftHSM2 token of its own for each test: a configuration and token directory in tmp_path.

SoftHSM2 reads ``SOFTHSM2_CONF`` when its module is initialised; the station finalises the
module when its last session closes, so each test's sessions must be closed by the end of the
test (:meth:`SoftHsm.open` registers them, and the fixture closes them and checks the module
was let go).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from station.security.pkcs11.pin import PromptPinSource
from station.security.pkcs11.token import TokenSession
from station.security.pkcs11.uri import Pkcs11Uri

SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
TOKEN_LABEL = "station-test"
# Distinctive, so that a test can look for it in every message, repr and file.
USER_PIN = "739155820461"
SO_PIN = "so-pin-5512309"


def softhsm_missing() -> str | None:
    """Why SoftHSM2 cannot be used here, or None."""
    if not SOFTHSM_MODULE.exists():
        return f"SoftHSM2 is not installed ({SOFTHSM_MODULE} is missing; apt-get install softhsm2)"
    if shutil.which("softhsm2-util") is None:
        return "softhsm2-util is not on PATH (apt-get install softhsm2)"
    return None


@dataclass
class SoftHsm:
    """Tokens in one SoftHSM2 token directory, and the sessions a test opened on them."""

    directory: Path
    sessions: list[TokenSession] = field(default_factory=list)

    def init_token(self, label: str, pin: str = USER_PIN) -> None:
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", pin],
            check=True,
            capture_output=True,
        )

    def uri(self, label: str = TOKEN_LABEL) -> Pkcs11Uri:
        return Pkcs11Uri(token=label, module_path=SOFTHSM_MODULE)

    def open(self, label: str = TOKEN_LABEL, *, pin: str = USER_PIN, writable: bool = True) -> TokenSession:
        session = TokenSession.open(self.uri(label), prompt_for(pin), writable=writable)
        self.sessions.append(session)
        return session

    def close_all(self) -> None:
        for session in self.sessions:
            session.close()

    def wipe(self) -> None:
        """Every token gone, as on a machine where the data directory was copied without them."""
        for item in self.directory.iterdir():
            shutil.rmtree(item)


def prompt_for(pin: str) -> PromptPinSource:
    answer: Callable[[str], str] = lambda _question: pin  # noqa: E731
    return PromptPinSource(answer)


def write_config(tmp_path: Path) -> tuple[Path, Path]:
    """(configuration file, token directory) for SOFTHSM2_CONF."""
    tokens = tmp_path / "softhsm-tokens"
    tokens.mkdir()
    config = tmp_path / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
        encoding="utf-8",
    )
    return config, tokens
