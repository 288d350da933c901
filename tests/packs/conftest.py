"""Fixtures for recipes that name a CMSIS device pack: the pack-shaped fixture, built once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from device_pack import PACK_TARGET, BuiltPack, build_device_pack
from domain.recipe_support import RecipeFactory
from flow.conftest import Line, build_line
from pyocd.target import TARGET


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
