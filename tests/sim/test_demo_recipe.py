"""The demo recipe: rendered from its template with the demo firmware's hashes, on the board's layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.domain.errors import RecipeError, SimulationError
from station.domain.recipe import CredentialPlan, LockMethod, RegionRole
from station.domain.recipe_loader import load_recipe
from station.sim import board
from station.sim.chips import chip_for
from station.sim.demo import DEMO_PRODUCTS, DEMO_TOKEN_COUNT, prepare_demo
from station.sim.demo_recipe import (
    DEMO_RECIPE,
    DEMO_RECIPES,
    demo_recipe_template,
    load_demo_recipe,
    render_committed_demo_recipe,
)
from station.sim.firmware import DemoFirmware, build_demo_firmware
from station.store import open_database


def test_committed_demo_recipe_is_current() -> None:
    assert DEMO_RECIPE.read_text(encoding="utf-8") == render_committed_demo_recipe(), (
        "resources/demo/recipe.toml is stale: run `python -m station.sim.demo_recipe` and commit it"
    )


@pytest.mark.parametrize("plan", list(CredentialPlan))
def test_demo_recipe_loads_next_to_the_demo_firmware(
    tmp_path: Path, demo_firmware: DemoFirmware, plan: CredentialPlan
) -> None:
    recipe = load_demo_recipe(tmp_path / "recipe", demo_firmware, plan=plan)

    assert recipe.product == "ACME-TOASTER" and recipe.target == "nrf52840"
    assert recipe.credentials.plan is plan
    assert recipe.firmware_version == demo_firmware.firmware_version
    assert recipe.image_hashes == tuple(image.sha256 for image in demo_firmware.images)
    for image, built in zip(recipe.images, demo_firmware.images, strict=True):
        assert [(segment.address, segment.data) for segment in image.segments] == [(built.address, built.data)]


def test_demo_recipe_regions_are_the_boards() -> None:
    recipe = load_recipe(_committed_with_images())
    layout = {region.role: (region.address, region.size) for region in recipe.flash.regions}
    assert layout == {
        RegionRole.BOOTLOADER: (board.BOOTLOADER_ADDRESS, board.BOOTLOADER_SIZE),
        RegionRole.APP_HEADER: (board.APP_HEADER_ADDRESS, board.APP_HEADER_SIZE),
        RegionRole.APPLICATION: (board.APPLICATION_ADDRESS, board.APPLICATION_SIZE),
        RegionRole.CREDENTIALS: (board.CREDENTIALS_ADDRESS, board.CREDENTIALS_SIZE),
        RegionRole.KEY_STORE: (board.KEY_STORE_ADDRESS, board.KEY_STORE_SIZE),
    }
    assert (recipe.flash.start, recipe.flash.size, recipe.flash.page_size) == (
        board.FLASH_BASE, board.FLASH_SIZE, board.PAGE_SIZE,
    )


_directory: list[Path] = []


def _committed_with_images() -> Path:
    """The committed recipe next to freshly built default demo images."""
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="demo-recipe-"))
    build_demo_firmware(directory)
    path = directory / "recipe.toml"
    path.write_text(DEMO_RECIPE.read_text(encoding="utf-8"), encoding="utf-8")
    return path


# ---- every family's demo recipe -------------------------------------------------------------------


@pytest.mark.parametrize("target", sorted(DEMO_RECIPES))
def test_every_family_s_committed_demo_recipe_is_current_and_on_its_chip_s_layout(
    tmp_path: Path, target: str
) -> None:
    committed = DEMO_RECIPES[target]
    assert committed.read_text(encoding="utf-8") == render_committed_demo_recipe(target), (
        f"{committed} is stale: run `python -m station.sim.demo_recipe` and commit it"
    )
    build_demo_firmware(tmp_path, target=target)
    path = tmp_path / "recipe.toml"
    path.write_text(committed.read_text(encoding="utf-8"), encoding="utf-8")
    recipe = load_recipe(path)
    product = chip_for(target).product
    assert recipe.target == target
    assert recipe.product == recipe.activation.product == recipe.activation.token_pool == DEMO_PRODUCTS[target]
    layout = {region.role: (region.address, region.size) for region in recipe.flash.regions}
    assert layout == {
        RegionRole.BOOTLOADER: (product.bootloader.base, product.bootloader.size),
        RegionRole.APP_HEADER: (product.app_header.base, product.app_header.size),
        RegionRole.APPLICATION: (product.application.base, product.application.size),
        RegionRole.CREDENTIALS: (product.credentials.base, product.credentials.size),
        RegionRole.KEY_STORE: (product.key_store.base, product.key_store.size),
    }
    flash = chip_for(target).layout.flash
    assert (recipe.flash.start, recipe.flash.size) == (flash.base, flash.size)


def test_the_kettle_is_an_stm32_locked_at_rdp_level_1_with_its_own_labels(tmp_path: Path) -> None:
    recipe = load_demo_recipe(tmp_path, build_demo_firmware(tmp_path, target="stm32f429xi"))
    assert recipe.lock.method is LockMethod.STM32_RDP1 and not recipe.lock.permanent
    assert recipe.serial_rule.pattern == "^KET-[0-9]{6}$"
    assert recipe.image_hashes == tuple(image.sha256 for image in build_demo_firmware(tmp_path / "again",
                                                                                      target="stm32f429xi").images)
    with pytest.raises(SimulationError, match="no demo recipe for target 'k99'"):
        demo_recipe_template("k99")


def test_the_fridge_is_a_k64f_locked_by_fsec_whose_fresh_parts_ship_secure(tmp_path: Path) -> None:
    firmware = build_demo_firmware(tmp_path, target="k64f")
    recipe = load_demo_recipe(tmp_path, firmware)
    assert recipe.product == "ACME-FRIDGE" and recipe.target == "k64f"
    assert recipe.lock.method is LockMethod.KINETIS_FSEC and recipe.lock.parts_ship_protected
    assert recipe.lock.mass_erase and not recipe.lock.backdoor and not recipe.lock.permanent
    assert recipe.serial_rule.pattern == "^FRG-[0-9]{6}$"
    # The flash configuration field lies in the bootloader's region, and its image holds it unsecure.
    bootloader = next(region for region in recipe.flash.regions if region.role is RegionRole.BOOTLOADER)
    assert bootloader.address <= 0x400 and 0x410 <= bootloader.address + bootloader.size
    assert firmware.bootloader.data[0x40C] == 0xFE
    assert recipe.image_hashes == tuple(image.sha256 for image in firmware.images)


@pytest.mark.parametrize(
    ("old", "new", "refusal"),
    [
        ("parts_ship_protected = true\n", "parts_ship_protected = true\nmass_erase = false\n",
         "the recipe must say permanent = true to write it"),
        ('method = "kinetis-fsec"', 'method = "stm32-rdp1"', "lock method 'stm32-rdp1' is for stm32"),
    ],
)  # fmt: skip
def test_the_fridge_recipe_refuses_mass_erase_disabled_without_consent_and_a_foreign_lock(
    tmp_path: Path, old: str, new: str, refusal: str
) -> None:
    path = load_demo_recipe(tmp_path, build_demo_firmware(tmp_path, target="k64f")).path
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(RecipeError, match=refusal):
        load_recipe(path)


def test_prepare_demo_makes_every_family_s_recipe_product_and_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATION_SIM_DIR", str(tmp_path / "demo" / "sim"))
    environment = prepare_demo(tmp_path / "demo")
    assert set(environment.recipe_paths) == set(DEMO_PRODUCTS)
    assert environment.recipe_for("nrf52840") == environment.recipe_path
    for target, product in DEMO_PRODUCTS.items():
        assert load_recipe(environment.recipe_for(target)).product == product
    assert {summary.code for summary in environment.service.products()} == set(DEMO_PRODUCTS.values())
    database = open_database(environment.paths.db_url)
    try:
        counts = {product: len(database.tokens.sealed_tokens(product)) for product in DEMO_PRODUCTS.values()}
    finally:
        database.dispose()
    assert counts == dict.fromkeys(DEMO_PRODUCTS.values(), DEMO_TOKEN_COUNT)
    vault = environment.unlock_vault()
    assert all(vault.next_token(product) for product in DEMO_PRODUCTS.values())
    assert set(DEMO_PRODUCTS) == {"nrf52840", "stm32f429xi", "k64f"} and DEMO_PRODUCTS["k64f"] == "ACME-FRIDGE"
    units = [*environment.create_units(2, target="stm32f429xi"), *environment.create_units(1, target="k64f")]
    try:
        assert [unit.chip.target for unit in units] == ["stm32f429xi", "stm32f429xi", "k64f"]
        assert units[2].info.protected  # a fresh K64F arrives secure
    finally:
        for unit in units:
            unit.close()
    with pytest.raises(SimulationError, match="no recipe for target 'k99'"):
        environment.recipe_for("k99")
    again = prepare_demo(tmp_path / "demo")  # kept between runs: nothing made twice
    assert {summary.code for summary in again.service.products()} == set(DEMO_PRODUCTS.values())
