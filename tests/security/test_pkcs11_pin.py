"""Where a token PIN comes from: a prompt, a private file, a systemd credential; never shown."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from station.domain.errors import TokenPinError
from station.security.pkcs11.pin import (
    FilePinSource,
    PromptPinSource,
    SystemdCredentialPinSource,
    TokenPin,
    pin_source_for,
)
from station.security.pkcs11.uri import Pkcs11Uri

PIN = "582046913377"
URI = Pkcs11Uri(token="Factory CA")


def _pin_file(path: Path, mode: int = 0o600, content: str = PIN + "\n") -> Path:
    path.write_text(content, encoding="utf-8")
    os.chmod(path, mode)
    return path


def test_a_pin_hides_from_repr_str_format_and_pickle() -> None:
    pin = TokenPin(PIN)
    assert pin.reveal() == PIN
    for shown in (repr(pin), str(pin), f"{pin}", f"{pin!r}", repr([pin]), repr({"pin": pin})):
        assert PIN not in shown
        assert "hidden" in shown
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(pin)
    with pytest.raises(AttributeError):
        pin.__dict__  # noqa: B018  # slots only: no dict that a debugger or vars() would show


def test_an_empty_or_absurd_pin_is_refused() -> None:
    with pytest.raises(TokenPinError, match="empty"):
        TokenPin("")
    with pytest.raises(TokenPinError, match="without NUL"):
        TokenPin("12\x0034")


def test_a_prompt_is_asked_with_the_token_named(tmp_path: Path) -> None:
    questions: list[str] = []

    def ask(question: str) -> str:
        questions.append(question)
        return PIN

    source = PromptPinSource(ask)
    assert source.pin_for(URI).reveal() == PIN
    assert questions == ["PIN of token 'Factory CA': "]
    assert PIN not in repr(source)
    with pytest.raises(TokenPinError, match="no PIN was given"):
        PromptPinSource(lambda _question: "").pin_for(URI)


def test_a_private_pin_file_is_read(tmp_path: Path) -> None:
    path = _pin_file(tmp_path / "hsm.pin")
    assert FilePinSource(path).pin_for(URI).reveal() == PIN


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_pin_file_others_may_read_is_refused_without_its_content(tmp_path: Path, mode: int) -> None:
    path = _pin_file(tmp_path / "hsm.pin", mode)
    with pytest.raises(TokenPinError, match=r"may be read by others .*\(chmod 600\)") as caught:
        FilePinSource(path).pin_for(URI)
    assert PIN not in str(caught.value) and PIN not in repr(caught.value)


def test_a_pin_file_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("only root can give a file to another user")
    path = _pin_file(tmp_path / "hsm.pin")
    os.chown(path, 4242, 4242)
    with pytest.raises(TokenPinError, match="belongs to another user"):
        FilePinSource(path).pin_for(URI)


def test_a_missing_empty_or_linked_pin_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TokenPinError, match="cannot open the token PIN file"):
        FilePinSource(tmp_path / "missing.pin").pin_for(URI)
    with pytest.raises(TokenPinError, match="is empty"):
        FilePinSource(_pin_file(tmp_path / "empty.pin", content="\n")).pin_for(URI)
    target = _pin_file(tmp_path / "real.pin")
    (tmp_path / "link.pin").symlink_to(target)
    with pytest.raises(TokenPinError, match="cannot open"):
        FilePinSource(tmp_path / "link.pin").pin_for(URI)


def test_a_systemd_credential_is_read_from_credentials_directory(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    _pin_file(credentials / "station-hsm-pin", 0o400)
    source = SystemdCredentialPinSource("station-hsm-pin", environment={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert source.pin_for(URI).reveal() == PIN

    with pytest.raises(TokenPinError, match=r"\$CREDENTIALS_DIRECTORY is not set"):
        SystemdCredentialPinSource("station-hsm-pin", environment={}).pin_for(URI)
    with pytest.raises(TokenPinError, match="cannot open the systemd credential"):
        SystemdCredentialPinSource("other", environment={"CREDENTIALS_DIRECTORY": str(credentials)}).pin_for(URI)
    for name in ("../hsm.pin", "a/b", "..", ""):
        with pytest.raises(TokenPinError, match="is not a systemd credential name"):
            SystemdCredentialPinSource(name, environment={})


def test_one_pin_source_is_chosen_explicitly(tmp_path: Path) -> None:
    path = _pin_file(tmp_path / "hsm.pin")
    assert pin_source_for(Pkcs11Uri(token="a", pin_source=path)) == FilePinSource(path)
    assert pin_source_for(URI, pin_file=path) == FilePinSource(path)
    assert pin_source_for(URI, credential="hsm") == SystemdCredentialPinSource("hsm")
    assert isinstance(pin_source_for(URI, prompt=lambda _question: PIN), PromptPinSource)
    # A file or credential wins over a prompt: a service never ends up waiting for a person.
    assert pin_source_for(URI, pin_file=path, prompt=lambda _question: PIN) == FilePinSource(path)

    with pytest.raises(TokenPinError, match="no PIN source for token 'Factory CA'"):
        pin_source_for(URI)
    with pytest.raises(TokenPinError, match="not both"):
        pin_source_for(URI, pin_file=path, credential="hsm")
    with pytest.raises(TokenPinError, match="differ"):
        pin_source_for(Pkcs11Uri(token="a", pin_source=tmp_path / "other.pin"), pin_file=path)
