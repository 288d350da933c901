"""An engineer's recipe-signing key made inside a SoftHSM2 token: registered, used to sign a recipe
a station in production then runs, never extractable, its PIN in no output."""

from __future__ import annotations

from pathlib import Path

import pytest
from pkcs11 import ObjectClass

from station.app import CompositionRoot, main
from station.config.paths import SIGNING_KEY_PASSPHRASE_ENVIRONMENT_VARIABLE
from station.domain.recipe_signature import signature_path
from station.operations.station import StationOptions
from station.security.pkcs11.keys import check_not_extractable
from station.sim.demo_recipe import write_demo_recipe
from station.sim.firmware import build_demo_firmware

from .softhsm import SOFTHSM_MODULE, TOKEN_LABEL, USER_PIN, SoftHsm

ENGINEER_PIN, SUPERVISOR_PIN = "271828182", "314159265"
PASSPHRASE = "supervisor-passphrase-5d2a"
KEY_LABEL = "eve-recipes"


def _private_file(path: Path, text: str) -> Path:
    path.write_text(text + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def test_an_engineer_signs_with_a_key_inside_a_token_and_the_production_station_runs_the_recipe(
    softhsm: SoftHsm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    store = ["--data-dir", str(data)]
    assert main(["db", "upgrade", *store]) == 0
    capsys.readouterr()
    (data / "station.toml").write_text('[custody]\nmode = "production"\n', encoding="utf-8")
    options = StationOptions(data_dir=data)
    station = CompositionRoot().open_station(options)
    try:
        station.people.add("eve", "engineer", ENGINEER_PIN)
        station.people.add("sam", "supervisor", SUPERVISOR_PIN)
    finally:
        station.close()
    token_pin = _private_file(tmp_path / "token.pin", USER_PIN)
    uri = f"pkcs11:token={TOKEN_LABEL};object={KEY_LABEL}?module-path={SOFTHSM_MODULE}&pin-source={token_pin}"
    eve_pin = _private_file(tmp_path / "eve.pin", ENGINEER_PIN)
    assert main(["people", "key", "new", "eve", "--pkcs11", uri, "--pin-file", str(eve_pin), *store]) == 0
    registered = capsys.readouterr().out
    assert registered.startswith("registered: eve") and f"token pkcs11:token={TOKEN_LABEL}" in registered
    monkeypatch.setenv(SIGNING_KEY_PASSPHRASE_ENVIRONMENT_VARIABLE, PASSPHRASE)
    sam_pin = _private_file(tmp_path / "sam.pin", SUPERVISOR_PIN)
    assert main(["people", "key", "new", "sam", "--out", str(tmp_path / "sam.key"), "--pin-file", str(sam_pin),
                 *store]) == 0  # fmt: skip

    recipe = write_demo_recipe(tmp_path / "recipe", build_demo_firmware(tmp_path / "recipe"))
    recipe.write_text(recipe.read_text(encoding="utf-8") + "\n[approval]\nrequired = 2\n", encoding="utf-8")
    assert main(["recipe", "sign", str(recipe), "--as", "eve", "--pkcs11", uri, *store]) == 0
    assert main(["recipe", "approve", str(recipe), "--as", "sam", "--key", str(tmp_path / "sam.key"), *store]) == 0
    assert main(["recipe", "check", str(recipe), *store]) == 0
    checked = capsys.readouterr().out
    assert "signature   eve (engineer) at " in checked and "approval    sam (supervisor) at " in checked
    assert main(["recipe", "approve", str(recipe), "--as", "eve", "--pkcs11", uri, *store]) == 2
    refused = capsys.readouterr()
    assert "approved already, by sam" in refused.err

    opened = CompositionRoot().open_station(options, recipe=recipe)  # a production station starts with it
    try:
        assert opened.production.recipe is not None, opened.production.recipe_problem
        assert opened.production.recipe.content_hash in signature_path(recipe).read_text(encoding="ascii")
    finally:
        opened.close()
    session = softhsm.open()
    check_not_extractable(session, session.find(ObjectClass.PRIVATE_KEY, KEY_LABEL), KEY_LABEL)
    for text in (registered, checked, refused.out, refused.err, signature_path(recipe).read_text(encoding="ascii")):
        assert USER_PIN not in text and ENGINEER_PIN not in text and PASSPHRASE not in text
