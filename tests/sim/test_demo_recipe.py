"""The demo recipe: rendered from its template with the demo firmware's hashes, on the board's layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.domain.recipe import CredentialPlan, RegionRole
from station.domain.recipe_loader import load_recipe
from station.sim import board
from station.sim.demo_recipe import DEMO_RECIPE, load_demo_recipe, render_committed_demo_recipe
from station.sim.firmware import DemoFirmware


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

    from station.sim.firmware import build_demo_firmware

    directory = Path(tempfile.mkdtemp(prefix="demo-recipe-"))
    build_demo_firmware(directory)
    path = directory / "recipe.toml"
    path.write_text(DEMO_RECIPE.read_text(encoding="utf-8"), encoding="utf-8")
    return path
