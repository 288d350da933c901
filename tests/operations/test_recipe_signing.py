"""Signed, approved recipes, without Qt: the one verification both front ends and every start go through.

A station in production (``[custody] mode = "production"``) with two engineers (eve, dan) and a
supervisor (sam), each with a registered key file. Each refusal of issue 18's must-show is made
and checked where an engineer checks a recipe (the window's check), where an engineer chooses
one, and where a station starts with one (``station provision --recipe``, the settings'
recipe): refused with its error, and nothing recorded under the recipe.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station.app import CompositionRoot, main
from station.domain.errors import (
    AccessError,
    RecipeApprovalMissingError,
    RecipeChangedError,
    RecipeError,
    RecipeSelfApprovalError,
    RecipeSignatureError,
    RecipeSignatureInvalidError,
    RecipeSignerError,
    RecipeUnsignedError,
    SigningKeyError,
    StationError,
)
from station.domain.recipe_loader import load_recipe
from station.domain.recipe_signature import signature_path
from station.operations.recipe_signing import RecipeTrust, SignatureStatus
from station.operations.signing_keys import SigningKeys
from station.operations.station import Station, StationOptions
from station.security.signing_keys import FileSigningKey, generate_file_key, load_file_key, public_key_file
from station.sim.demo_recipe import write_demo_recipe
from station.sim.firmware import build_demo_firmware

from .recipe_signing_support import PASSPHRASE, PINS, ROLES, change_one_byte, forge, recipe_copy


@dataclass
class SigningStation:
    root: CompositionRoot
    options: StationOptions
    station: Station
    keys: dict[str, FileSigningKey]
    recipe: Path  # the demo recipe, unsigned, beside its images
    folder: Path  # where a test makes its copies

    @property
    def trust(self) -> RecipeTrust:
        return RecipeTrust(self.station.database)

    def copy(self, name: str, *, two_people: bool = False) -> Path:
        return recipe_copy(self.recipe, self.folder / name, two_people=two_people)


@pytest.fixture
def signing(tmp_path: Path) -> Iterator[SigningStation]:
    data = tmp_path / "data"
    assert main(["db", "upgrade", "--data-dir", str(data)]) == 0
    (data / "station.toml").write_text('[custody]\nmode = "production"\n', encoding="utf-8")
    root, options = CompositionRoot(), StationOptions(data_dir=data)
    station = root.open_station(options)
    try:
        for name, pin in PINS.items():
            station.people.add(name, ROLES[name], pin)
        station.people.add("ann", "operator", None)
        registry = SigningKeys(station.database, station.people, station.audit)
        for name, pin in PINS.items():
            registry.create_file_key(name, pin, tmp_path / f"{name}.key", PASSPHRASE)
        keys = {name: load_file_key(tmp_path / f"{name}.key", PASSPHRASE) for name in PINS}
        recipe = write_demo_recipe(tmp_path / "firmware", build_demo_firmware(tmp_path / "firmware"))
        yield SigningStation(root, options, station, keys, recipe, tmp_path / "cases")
    finally:
        station.close()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_signed_and_approved_recipe_is_run_and_recorded_with_its_signer_and_approver(signing: SigningStation) -> None:
    path = signing.copy("good", two_people=True)
    assert signing.trust.sign(path, "eve", signing.keys["eve"]).status is SignatureStatus.AWAITING_APPROVAL
    state = signing.trust.approve(path, "sam", signing.keys["sam"])
    assert state.status is SignatureStatus.APPROVED and state.unchecked is None
    assert oct(signature_path(path).stat().st_mode & 0o777) == "0o644"  # a signature is no secret

    production = signing.station.production
    assert "approval    sam (supervisor)" in production.check_recipe_file(path)
    recipe = production.use_recipe(path, "engineer:eve")
    recorded = signing.station.database.registry.get_recipe(recipe.content_hash)
    assert recorded is not None and len(recorded.signatures) == 1
    signature = recorded.signatures[0]
    assert (signature.signer, signature.signer_role, signature.approver, signature.approver_role) == (
        "eve", "engineer", "sam", "supervisor")  # fmt: skip
    assert signature.signer_key == signing.keys["eve"].public_key_fingerprint
    assert signature.approver_key == signing.keys["sam"].public_key_fingerprint
    assert signature.document == signature_path(path).read_text(encoding="ascii")
    production.use_recipe(path, "engineer:eve")  # loaded again: the same document is recorded once
    again = signing.station.database.registry.get_recipe(recipe.content_hash)
    assert again is not None and len(again.signatures) == 1
    database = signing.station.database
    report = database.verify_chain(signing.station.station_key)
    assert report.ok, report.findings
    for change in ("UPDATE recipe_signatures SET approver = 'dan'", "UPDATE person_keys SET location = 'elsewhere'"):
        with database.engine.begin() as connection:  # around the station, as someone with the file would
            connection.exec_driver_sql(change)
        table = change.split()[1]
        findings = database.verify_chain(signing.station.station_key).findings
        assert any(f"{table} row 1 was changed" in finding.explanation for finding in findings), findings


def test_a_station_in_development_runs_unsigned_and_unapproved_recipes_and_says_so(signing: SigningStation) -> None:
    unsigned = load_recipe(signing.copy("unsigned"))
    state = signing.trust.admit(unsigned, production=False)
    assert state.status is SignatureStatus.UNSIGNED and state.record() is None
    assert "not signed (a station in production refuses it" in "\n".join(state.lines())
    waiting = signing.copy("waiting", two_people=True)
    signing.trust.sign(waiting, "eve", signing.keys["eve"])
    state = signing.trust.admit(load_recipe(waiting), production=False)
    assert state.status is SignatureStatus.AWAITING_APPROVAL
    assert "missing: a second person approves it" in "\n".join(state.lines())
    # ...but a signature that is there must hold, in every mode.
    change_one_byte(waiting)
    with pytest.raises(RecipeChangedError):
        signing.trust.admit(load_recipe(waiting), production=False)


def _unsigned(signing: SigningStation) -> Path:
    return signing.copy("unsigned")


def _signed_by_a_supervisor(signing: SigningStation) -> Path:
    path = signing.copy("supervisor")
    forge(path, signing.keys["sam"], "sam", "engineer")  # sam's own registered key, an engineer's role claimed
    return path


def _signed_by_an_engineer_no_longer(signing: SigningStation) -> Path:
    path = signing.copy("demoted")
    signing.trust.sign(path, "eve", signing.keys["eve"])
    signing.station.people.add("eve", "supervisor", PINS["eve"])
    return path


def _approved_by_the_signer(signing: SigningStation) -> Path:
    path = signing.copy("self-approved", two_people=True)
    signing.trust.sign(path, "eve", signing.keys["eve"])
    with pytest.raises(RecipeSelfApprovalError):  # the command refuses it...
        signing.trust.approve(path, "eve", signing.keys["eve"])
    key = signing.keys["eve"]
    forge(path, key, "eve", "engineer", approval=(key, "eve", "engineer"))  # ...so it is made by hand
    return path


def _approved_by_an_operator(signing: SigningStation) -> Path:
    path = signing.copy("operator-approved", two_people=True)
    stranger = generate_file_key(signing.folder / "ann.key", PASSPHRASE)
    forge(path, signing.keys["eve"], "eve", "engineer", approval=(stranger, "ann", "supervisor"))
    return path


def _not_approved(signing: SigningStation) -> Path:
    path = signing.copy("not-approved", two_people=True)
    signing.trust.sign(path, "eve", signing.keys["eve"])
    return path


def _recipe_changed(signing: SigningStation) -> Path:
    path = signing.copy("recipe-changed")
    signing.trust.sign(path, "eve", signing.keys["eve"])
    change_one_byte(path)
    return path


def _image_changed(signing: SigningStation) -> Path:
    path = signing.copy("image-changed")
    signing.trust.sign(path, "eve", signing.keys["eve"])
    change_one_byte(path.with_name("application.bin"), b"")
    return path


def _document_changed(signing: SigningStation) -> Path:
    path = signing.copy("document-changed")
    signing.trust.sign(path, "eve", signing.keys["eve"])
    document = json.loads(signature_path(path).read_text(encoding="ascii"))
    document["signature"]["signed_at"] = "2020-01-01T00:00:00Z"
    signature_path(path).write_text(json.dumps(document), encoding="ascii")
    return path


def _key_revoked(signing: SigningStation) -> Path:
    path = signing.copy("revoked")
    signing.trust.sign(path, "eve", signing.keys["eve"])
    registry = SigningKeys(signing.station.database, signing.station.people, signing.station.audit)
    registry.revoke("eve", signing.keys["eve"].public_key_fingerprint, "dan", PINS["dan"])
    return path


def _key_not_registered(signing: SigningStation) -> Path:
    path = signing.copy("unregistered")
    forge(path, generate_file_key(signing.folder / "other.key", PASSPHRASE), "eve", "engineer")
    return path


REFUSALS: dict[str, tuple[Callable[[SigningStation], Path], type[StationError], str]] = {
    "unsigned": (_unsigned, RecipeUnsignedError, "recipe.toml is not signed"),
    "signed by a supervisor": (_signed_by_a_supervisor, RecipeSignerError, "sam, who has the role supervisor"),
    "signer no longer an engineer": (_signed_by_an_engineer_no_longer, RecipeSignerError,
                                     "eve, who has the role supervisor"),
    "approved by the signer": (_approved_by_the_signer, RecipeSelfApprovalError, "approved by eve, who signed it"),
    "approved by an operator": (_approved_by_an_operator, RecipeSignerError, "ann, who has the role operator"),
    "approval missing": (_not_approved, RecipeApprovalMissingError, "no second person approved it"),
    "recipe changed by one byte": (_recipe_changed, RecipeChangedError, "the recipe changed after it was signed"),
    "image changed by one byte": (_image_changed, RecipeError,
                                  "[images.application] sha256: image hash differs from the pinned one"),
    "signature document changed": (_document_changed, RecipeSignatureInvalidError, "does not verify with key"),
    "key revoked": (_key_revoked, RecipeSignerError, "revoked at"),
    "key not registered": (_key_not_registered, RecipeSignerError, "has no registered key"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSALS))
def test_each_refusal_at_check_at_choice_and_at_start_records_nothing(signing: SigningStation, case: str) -> None:
    make, refusal, words = REFUSALS[case]
    path = make(signing)
    recipe_hash = _sha256(path)
    production = signing.station.production
    with pytest.raises(refusal, match=_escaped(words)):
        production.check_recipe_file(path)  # the window's check (and `station recipe check`'s rule)
    with pytest.raises(refusal, match=_escaped(words)):
        production.use_recipe(path, "engineer:dan")  # an engineer's choice
    started = signing.root.open_station(signing.options, recipe=path)  # `station provision --recipe`, the settings'
    try:
        assert started.production.recipe is None
        assert isinstance(started.production.recipe_refusal, refusal), started.production.recipe_refusal
        assert started.production.readiness_problems(slot_count=1, recovering=False)[0].code == "NO_RECIPE"
        with pytest.raises(StationError):
            started.production.provisioner()  # nothing can run
    finally:
        started.close()
    assert signing.station.database.registry.get_recipe(recipe_hash) is None  # no unit could be run under it


def _escaped(words: str) -> str:
    return "".join(f"\\{character}" if character in "[]().*+?" else character for character in words)


def test_only_an_engineer_with_a_registered_key_signs_and_only_another_person_approves(
    signing: SigningStation,
) -> None:
    path = signing.copy("refused", two_people=True)
    with pytest.raises(RecipeSignerError, match="sam has the role supervisor"):
        signing.trust.sign(path, "sam", signing.keys["sam"])
    with pytest.raises(RecipeSignerError, match="eve has no registered key"):
        signing.trust.sign(path, "eve", signing.keys["sam"])
    with pytest.raises(RecipeUnsignedError):
        signing.trust.approve(path, "sam", signing.keys["sam"])
    assert not signature_path(path).exists()  # every refusal wrote nothing
    signing.trust.sign(path, "eve", signing.keys["eve"])
    first = signature_path(path).read_bytes()
    with pytest.raises(RecipeSignatureError, match="signed already"):
        signing.trust.sign(path, "dan", signing.keys["dan"])
    with pytest.raises(RecipeSelfApprovalError):
        signing.trust.approve(path, "dan", signing.keys["eve"])  # the signer's key in other hands
    assert signature_path(path).read_bytes() == first
    assert signing.trust.approve(path, "dan", signing.keys["dan"]).status is SignatureStatus.APPROVED
    with pytest.raises(RecipeSignatureError, match="approved already, by dan"):
        signing.trust.approve(path, "sam", signing.keys["sam"])


def test_a_key_is_registered_with_its_owners_pin_once_and_kept_only_as_a_public_key(
    signing: SigningStation, tmp_path: Path
) -> None:
    registry = SigningKeys(signing.station.database, signing.station.people, signing.station.audit)
    out = tmp_path / "dan-2.key"
    with pytest.raises(AccessError, match="wrong name or PIN"):
        registry.create_file_key("dan", "000000", out, PASSPHRASE)
    assert not out.exists()  # the PIN is checked before a key is made
    with pytest.raises(AccessError):
        registry.create_file_key("ann", "000000", out, PASSPHRASE)  # an operator signs nothing
    eve = public_key_file(tmp_path / "eve.key").read_bytes()
    with pytest.raises(SigningKeyError, match="registered already, to eve"):
        registry.register("dan", PINS["dan"], eve, location="file eve.key.pub", where="eve.key.pub")
    with pytest.raises(SigningKeyError, match="holds a private key"):
        registry.register("dan", PINS["dan"], (tmp_path / "eve.key").read_bytes(), location="x", where="eve.key")
    with pytest.raises(AccessError, match="only eve or an engineer"):
        registry.revoke("eve", signing.keys["eve"].public_key_fingerprint, "sam", PINS["sam"])
    record = registry.create_file_key("dan", PINS["dan"], out, PASSPHRASE)
    assert [key.fingerprint for key in registry.keys("dan")][-1] == record.fingerprint
    assert oct(out.stat().st_mode & 0o777) == "0o600" and b"ENCRYPTED PRIVATE KEY" in out.read_bytes()
    assert "PRIVATE" not in record.public_key_pem


def test_a_key_file_opens_only_with_its_passphrase_and_only_when_private(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    generate_file_key(path, PASSPHRASE)
    with pytest.raises(SigningKeyError, match="exists already"):
        generate_file_key(path, PASSPHRASE)
    with pytest.raises(SigningKeyError, match="wrong passphrase") as wrong:
        load_file_key(path, "not the passphrase")
    assert PASSPHRASE not in str(wrong.value)
    os.chmod(path, 0o640)
    with pytest.raises(SigningKeyError, match="may be read by others"):
        load_file_key(path, PASSPHRASE)
    with pytest.raises(SigningKeyError, match="at least 8"):
        generate_file_key(tmp_path / "short.pem", "short")
    os.chmod(path, 0o600)
    plain = tmp_path / "plain.pem"
    plain.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    plain.chmod(0o600)
    with pytest.raises(SigningKeyError, match="is not encrypted"):
        load_file_key(plain, PASSPHRASE)
    key = load_file_key(path, PASSPHRASE)
    assert PASSPHRASE not in repr(key) and "PRIVATE" not in repr(key)
    with pytest.raises(TypeError):
        pickle.dumps(key)


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ("[approval]\nrequired = 3\n", "[approval] required: must be 1 (an engineer signs) or 2"),
        ("[approval]\nrequired = \"2\"\n", "[approval] required: must be an integer"),
        ("[approval]\nrequired = 2\npeople = [\"eve\"]\n", "people"),
        ("[approval]\n", "[approval] required: missing"),
    ],
)
def test_the_recipe_says_how_many_people_sign_it_strictly(signing: SigningStation, table: str, words: str) -> None:
    path = signing.copy("approval")
    assert load_recipe(path).signatures_required == 1
    path.write_text(path.read_text(encoding="utf-8") + "\n" + table, encoding="utf-8")
    with pytest.raises(RecipeError, match=_escaped(words)):
        load_recipe(path)
