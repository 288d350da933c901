"""Fixtures for recipes that name a CMSIS device pack: the pack-shaped fixtures, each built once,
and simulated lines whose recipes name them."""

from __future__ import annotations

import os
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from device_pack import FIXTURE_DIR, PACK_TARGET, SILICON_LABS_PACK, BuiltPack, build_device_pack
from domain.recipe_support import RecipeFactory
from flow.conftest import FAST_CONSOLE, Line, build_line, demo_environment, line_on_recipe
from pyocd.target import TARGET

from station.domain.recipe import CredentialPlan
from station.sim.chips import EFR32MG12
from station.sim.demo import DemoEnvironment
from station.sim.firmware import build_demo_firmware

EFR32_RECIPE_TEMPLATE = FIXTURE_DIR / "efr32mg12_recipe.toml.in"


@pytest.fixture(autouse=True)
def _pyocd_targets_as_before() -> Iterator[None]:
    """pyOCD keeps the targets it makes from packs in one table for the whole process: put it
    back as it was after each test, so that no later test sees the fixture pack's target
    (tests/test_docs.py counts pyOCD's targets)."""
    before = dict(TARGET)
    yield
    TARGET.clear()
    TARGET.update(before)


@pytest.fixture(scope="session")
def device_pack(tmp_path_factory: pytest.TempPathFactory) -> BuiltPack:
    """The fixture pack (its FLM compiled from tests/fixtures/pack), shared by the session: tests
    that need another pack copy or build their own."""
    return build_device_pack(tmp_path_factory.mktemp("device-pack"))


@pytest.fixture
def recipes(tmp_path: Path) -> RecipeFactory:
    return RecipeFactory(tmp_path / "product")


@pytest.fixture
def pack_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, device_pack: BuiltPack) -> Iterator[Line]:
    """The flow tests' simulated line, its recipe the demo recipe with the pack's target."""
    replacements = {
        'target = "nrf52840"': f'target = "{PACK_TARGET}"\npack = "{device_pack.path}"\n'
        f'pack_sha256 = "{device_pack.sha256}"',
    }
    yield from build_line(tmp_path, monkeypatch, replacements=replacements)


@pytest.fixture(scope="session")
def efr32_pack(tmp_path_factory: pytest.TempPathFactory) -> BuiltPack:
    """The Silicon Labs fixture pack (its FLM for the MSC compiled from tests/fixtures/pack)."""
    return build_device_pack(tmp_path_factory.mktemp("efr32-pack"), SILICON_LABS_PACK)


def write_efr32_recipe(
    environment: DemoEnvironment,
    pack: BuiltPack,
    *,
    plan: CredentialPlan = CredentialPlan.STATION_GENERATED,
    replacements: dict[str, str] | None = None,
) -> Path:
    """The EFR32 test recipe (the demo toaster's product on EFR32MG12 units, through the pack),
    next to the demo firmware built for the part in the demo directory."""
    out_dir = environment.root / f"firmware-{EFR32MG12}-{plan.value}"
    firmware = build_demo_firmware(out_dir, target=EFR32MG12)
    values = {"firmware_version": firmware.firmware_version, "plan": plan.value,
              "pack_file": str(pack.path), "pack_sha256": pack.sha256}  # fmt: skip
    for key, image in (("bootloader", firmware.bootloader), ("app_header", firmware.app_header),
                       ("application", firmware.application)):  # fmt: skip
        values[f"{key}_file"] = os.path.relpath(image.bin_path, out_dir)
        values[f"{key}_sha256"] = image.sha256
    text = string.Template(EFR32_RECIPE_TEMPLATE.read_text(encoding="utf-8")).substitute(values)
    for old, new in replacements.items() if replacements else ():
        assert old in text, old
        text = text.replace(old, new)
    path = out_dir / "recipe.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def efr32_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, efr32_pack: BuiltPack) -> Iterator[Line]:
    """A simulated line of EFR32MG12 units: the EFR32 test recipe, locked by its debug lock word."""
    environment = demo_environment(tmp_path, monkeypatch)
    yield from line_on_recipe(environment, write_efr32_recipe(environment, efr32_pack, replacements=FAST_CONSOLE),
                              EFR32MG12)  # fmt: skip
