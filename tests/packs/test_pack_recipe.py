"""A recipe that names a CMSIS device pack: what the loader accepts, what it refuses (and that a
refusal changes nothing), and what ``station recipe check`` says about it."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
from device_pack import FLM_NAME, PACK_DEVICE, PACK_NAME, PACK_TARGET, PDSC_NAME, BuiltPack, write_pack
from domain.recipe_support import RecipeFactory
from pyocd.target import normalise_target_type_name

from station.domain.errors import ConfigurationError, RecipeError
from station.domain.recipe import DevicePack
from station.domain.recipe_loader import load_recipe
from station.domain.recipe_sections import pack_target_name
from station.operations.recipes import check_recipe

Document = dict[str, Any]


def pack_document(recipes: RecipeFactory, pack: Path, sha256: str, target: str = PACK_TARGET) -> Document:
    document = recipes.document()
    document["target"] = target
    document["pack"] = str(pack.relative_to(recipes.directory)) if pack.is_relative_to(recipes.directory) else str(pack)
    document["pack_sha256"] = sha256
    return document


def placed(recipes: RecipeFactory, device_pack: BuiltPack) -> Path:
    """The fixture pack in the recipe's folder, under packs/."""
    target = recipes.directory / "packs" / PACK_NAME
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(device_pack.path, target)
    return target


def refused(recipes: RecipeFactory, document: Document) -> str:
    """Load a recipe the loader must refuse; it must leave every file as it was."""
    path = recipes.write(document)
    before = recipes.snapshot()
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    assert recipes.snapshot() == before, "loading a recipe must not write anything"
    return str(caught.value)


def other_pack(recipes: RecipeFactory, entries: dict[str, bytes], name: str = "Other.DFP.pack") -> tuple[Path, str]:
    path = write_pack(recipes.directory / name, entries)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


# ---- accepted


def test_a_recipe_names_its_pack_relative_to_itself_or_absolute(recipes: RecipeFactory, device_pack: BuiltPack) -> None:
    pack = placed(recipes, device_pack)
    recipe = load_recipe(recipes.write(pack_document(recipes, pack, device_pack.sha256)))
    assert recipe.target == PACK_TARGET
    assert recipe.pack == DevicePack(pack, device_pack.sha256, PACK_DEVICE, "Nordic Semiconductor")

    recipe = load_recipe(recipes.write(pack_document(recipes, device_pack.path, device_pack.sha256.upper())))
    assert recipe.pack == DevicePack(device_pack.path, device_pack.sha256, PACK_DEVICE, "Nordic Semiconductor")


def test_a_recipe_without_a_pack_has_none(recipes: RecipeFactory) -> None:
    assert load_recipe(recipes.write()).pack is None


def test_a_variant_is_a_device_too(recipes: RecipeFactory, device_pack: BuiltPack) -> None:
    """pyOCD makes a target of every <variant> too, named by its Dvariant."""
    pdsc = device_pack.pdsc.replace(
        b'<device Dname="nRF52840_xxAA">', b'<device Dname="nRF52840_xxAA"><variant Dvariant="nRF52840-QIAA-R"/>'
    )
    pack, sha256 = other_pack(recipes, {PDSC_NAME: pdsc, FLM_NAME: device_pack.flm})
    recipe = load_recipe(recipes.write(pack_document(recipes, pack, sha256, target="nrf52840_qiaa_r")))
    assert recipe.pack is not None and recipe.pack.device == "nRF52840-QIAA-R"


@pytest.mark.parametrize(
    "part",
    ["nRF52840_xxAA", "EFR32MG12P433F1024GM68", "STM32F429ZITx", "MK64FN1M0xxx12", "foo--bar", "a-_b",
     "LPC55S69 (cm33)", "ÄRM-chip", "x__y", "-lead", "trail-"],
)
def test_pack_target_names_follow_pyocd_s_rule(part: str) -> None:
    assert pack_target_name(part) == normalise_target_type_name(part)


# ---- refused, each with its reason and nothing written


def test_pack_without_its_pinned_hash(recipes: RecipeFactory, device_pack: BuiltPack) -> None:
    document = pack_document(recipes, placed(recipes, device_pack), device_pack.sha256)
    del document["pack_sha256"]
    assert refused(recipes, document) == (
        "recipe.toml: pack_sha256: missing (required with pack: the SHA-256 of the .pack file, as sha256sum gives it)"
    )


def test_a_pinned_hash_without_a_pack(recipes: RecipeFactory, device_pack: BuiltPack) -> None:
    document = recipes.document()
    document["pack_sha256"] = device_pack.sha256
    assert refused(recipes, document) == "recipe.toml: pack_sha256: pins a pack, but the recipe names no pack"


def test_a_malformed_pinned_hash(recipes: RecipeFactory, device_pack: BuiltPack) -> None:
    document = pack_document(recipes, placed(recipes, device_pack), "12ab")
    assert refused(recipes, document) == (
        "recipe.toml: pack_sha256: must be 64 hex digits (the SHA-256 of the .pack file)"
    )


def test_an_empty_pack_name(recipes: RecipeFactory, device_pack: BuiltPack) -> None:
    document = pack_document(recipes, placed(recipes, device_pack), device_pack.sha256)
    document["pack"] = ""
    assert refused(recipes, document) == "recipe.toml: pack: must name a CMSIS pack file (.pack)"


def test_a_missing_pack_file(recipes: RecipeFactory, device_pack: BuiltPack) -> None:
    document = pack_document(recipes, placed(recipes, device_pack), device_pack.sha256)
    document["pack"] = "packs/Missing.DFP.pack"
    missing = recipes.directory / "packs" / "Missing.DFP.pack"
    assert refused(recipes, document) == f"recipe.toml: pack: pack file {missing} does not exist"


def test_a_swapped_pack_is_refused(recipes: RecipeFactory, device_pack: BuiltPack) -> None:
    """Another pack under the pinned one's name: same devices, other bytes."""
    pack = placed(recipes, device_pack)
    write_pack(pack, {PDSC_NAME: device_pack.pdsc, FLM_NAME: device_pack.flm, "extra.txt": b"swapped"})
    actual = hashlib.sha256(pack.read_bytes()).hexdigest()
    assert refused(recipes, pack_document(recipes, pack, device_pack.sha256)) == (
        f"recipe.toml: pack_sha256: pack hash differs from the pinned one (file {actual}, pinned {device_pack.sha256})"
    )


def test_a_pack_that_is_not_a_zip(recipes: RecipeFactory) -> None:
    path = recipes.directory / "Broken.DFP.pack"
    path.write_bytes(b"<?xml version='1.0'?><package/>")
    document = pack_document(recipes, path, hashlib.sha256(path.read_bytes()).hexdigest())
    assert refused(recipes, document) == "recipe.toml: pack: Broken.DFP.pack is not a CMSIS pack: not a zip file"


def test_a_pack_without_a_pdsc(recipes: RecipeFactory, device_pack: BuiltPack) -> None:
    pack, sha256 = other_pack(recipes, {FLM_NAME: device_pack.flm, "README.txt": b"no description"})
    assert refused(recipes, pack_document(recipes, pack, sha256)) == (
        "recipe.toml: pack: Other.DFP.pack is not a CMSIS pack: it holds no .pdsc file"
    )


def test_a_pack_whose_pdsc_is_not_at_its_top_level(recipes: RecipeFactory, device_pack: BuiltPack) -> None:
    pack, sha256 = other_pack(recipes, {f"nested/{PDSC_NAME}": device_pack.pdsc, FLM_NAME: device_pack.flm})
    assert refused(recipes, pack_document(recipes, pack, sha256)) == (
        f"recipe.toml: pack: Other.DFP.pack is not a CMSIS pack: its .pdsc (nested/{PDSC_NAME}) is not at its top level"
    )


def test_a_pdsc_that_is_not_xml(recipes: RecipeFactory, device_pack: BuiltPack) -> None:
    pack, sha256 = other_pack(recipes, {PDSC_NAME: device_pack.pdsc[:200], FLM_NAME: device_pack.flm})
    assert refused(recipes, pack_document(recipes, pack, sha256)).startswith(
        f"recipe.toml: pack: {PDSC_NAME} in Other.DFP.pack is not valid XML: "
    )


def test_a_pdsc_without_the_target(recipes: RecipeFactory, device_pack: BuiltPack) -> None:
    pack = placed(recipes, device_pack)
    assert refused(recipes, pack_document(recipes, pack, device_pack.sha256, target="nrf52833_xxaa")) == (
        f"recipe.toml: pack: {PACK_NAME} describes no device that pyOCD names 'nrf52833_xxaa' "
        "(it describes nRF52840_xxAA (nrf52840_xxaa))"
    )


def test_a_pdsc_without_devices(recipes: RecipeFactory, device_pack: BuiltPack) -> None:
    pdsc = b'<?xml version="1.0"?><package><vendor>Nobody</vendor><devices/></package>'
    pack, sha256 = other_pack(recipes, {PDSC_NAME: pdsc})
    assert refused(recipes, pack_document(recipes, pack, sha256)) == (
        f"recipe.toml: pack: {PDSC_NAME} in Other.DFP.pack describes no device"
    )


def test_a_pack_device_takes_only_the_lock_methods_that_fit_it(recipes: RecipeFactory, device_pack: BuiltPack) -> None:
    """A Silicon Labs part from its pack: the EFM32 profile's debug lock word fits it, the nRF52's
    APPROTECT does not; nor does the debug lock word fit the Nordic pack's device."""
    pdsc = (
        device_pack.pdsc.replace(b"Nordic Semiconductor:54", b"Silicon Labs:21")
        .replace(b"nRF52 Series", b"EFR32MG12P")
        .replace(b"nRF52840_xxAA", b"EFR32MG12P433F1024GM68")
    )
    pack, sha256 = other_pack(recipes, {PDSC_NAME: pdsc, FLM_NAME: device_pack.flm})
    document = pack_document(recipes, pack, sha256, target="efr32mg12p433f1024gm68")
    assert refused(recipes, document) == (
        "recipe.toml: [lock] method: lock method 'nrf52-approtect' is for nrf52* targets, not 'efr32mg12p433f1024gm68'"
    )
    document["lock"]["method"] = "efm32-debug-lock-word"
    recipe = load_recipe(recipes.write(document))
    assert recipe.pack == DevicePack(pack, sha256, "EFR32MG12P433F1024GM68", "Silicon Labs")
    nordic = pack_document(recipes, placed(recipes, device_pack), device_pack.sha256)
    nordic["lock"]["method"] = "efm32-debug-lock-word"
    assert refused(recipes, nordic).startswith(
        "recipe.toml: [lock] method: lock method 'efm32-debug-lock-word' is for efm32gg1*, "
    ) and refused(recipes, nordic).endswith(f"targets, not '{PACK_TARGET}'")


# ---- recipe check


def test_recipe_check_names_the_pack_and_its_device(recipes: RecipeFactory, device_pack: BuiltPack) -> None:
    pack = placed(recipes, device_pack)
    checked = check_recipe(recipes.write(pack_document(recipes, pack, device_pack.sha256)))
    lines = checked.description.splitlines()
    assert lines[2:5] == [
        f"target      {PACK_TARGET}",
        f"pack        {pack}",
        f"            device Nordic Semiconductor {PACK_DEVICE} (pyOCD target {PACK_TARGET}), "
        f"sha256 {device_pack.sha256}",
    ]
    assert f"profile     nRF52 ({PACK_TARGET}), device id from FICR DEVICEID" in checked.description
    assert checked.to_json()["pack"] == {
        "file": str(pack), "sha256": device_pack.sha256, "device": PACK_DEVICE, "vendor": "Nordic Semiconductor"
    }
    assert check_recipe(recipes.write()).to_json()["pack"] is None


def test_recipe_check_refuses_a_pack_device_pyocd_would_shadow_with_its_own(
    recipes: RecipeFactory, device_pack: BuiltPack
) -> None:
    """A pack device named like a built-in target: pyOCD would use the built-in and ignore the pack."""
    pdsc = device_pack.pdsc.replace(b'Dname="nRF52840_xxAA"', b'Dname="nRF52840"')
    pack, sha256 = other_pack(recipes, {PDSC_NAME: pdsc, FLM_NAME: device_pack.flm})
    path = recipes.write(pack_document(recipes, pack, sha256, target="nrf52840"))
    assert load_recipe(path).pack is not None  # the pack does describe it
    with pytest.raises(ConfigurationError) as caught:
        check_recipe(path)
    assert str(caught.value).endswith(
        "target 'nrf52840' is one of pyOCD's built-in targets, which pyOCD uses instead of the pack's device of "
        "that name: name a target only the pack describes, or no pack"
    )


def test_recipe_check_names_the_efm32_profile_and_what_its_debug_lock_word_means(
    recipes: RecipeFactory, efr32_pack: BuiltPack
) -> None:
    target = efr32_pack.fixture.target
    document = pack_document(recipes, efr32_pack.path, efr32_pack.sha256, target=target)
    document["lock"]["method"] = "efm32-debug-lock-word"
    checked = check_recipe(recipes.write(document))
    lines = checked.description.splitlines()
    assert (
        f"            device Silicon Labs EFR32MG12P433F1024GM68 (pyOCD target {target}), sha256 {efr32_pack.sha256}"
    ) in lines
    assert (
        f"profile     EFM32/EFR32 Series 1 ({target}), device id from DEVINFO UNIQUEL, UNIQUEH (0x0FE081F0, 64 bits)"
    ) in lines
    assert (
        "lock        efm32-debug-lock-word: reversible only by an AAP device erase, which erases the main flash and "
        "the lock bits page (the lock itself) and makes the unit a development unit"
    ) in lines
