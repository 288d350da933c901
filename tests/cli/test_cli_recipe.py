"""``station recipe check``: prints what the recipe does and its hash; a bad recipe exits 2 and writes nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from station.app import main
from station.sim.demo_recipe import write_demo_recipe
from station.sim.firmware import build_demo_firmware


@pytest.fixture
def demo_recipe(tmp_path: Path) -> Path:
    firmware = build_demo_firmware(tmp_path / "demo")
    return write_demo_recipe(tmp_path / "demo", firmware)


def test_check_prints_product_images_regions_and_hash(
    demo_recipe: Path, station_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["recipe", "check", str(demo_recipe)]) == 0
    out = capsys.readouterr().out
    assert "product     ACME-TOASTER" in out
    assert "target      nrf52840" in out
    assert "credentials      credentials  0x000FE000-0x000FF000 (4 KiB)" in out
    application = hashlib.sha256((demo_recipe.parent / "application.bin").read_bytes()).hexdigest()
    assert f"sha256 {application}  (application.bin)" in out
    assert f"recipe sha256 {hashlib.sha256(demo_recipe.read_bytes()).hexdigest()}" in out
    assert out.rstrip().endswith("OK: the recipe is valid and every image matches its pinned hash")
    assert not station_data_dir.exists()


def test_check_refuses_a_changed_image_with_exit_2(
    demo_recipe: Path, station_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = demo_recipe.parent / "application.bin"
    image.write_bytes(image.read_bytes()[:-4] + b"\0\0\0\0")
    before = {path.name: path.read_bytes() for path in demo_recipe.parent.iterdir()}

    assert main(["recipe", "check", str(demo_recipe)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        "station: error [RECIPE]: recipe.toml: [images.application] sha256: image hash differs from the pinned one"
    )
    assert {path.name: path.read_bytes() for path in demo_recipe.parent.iterdir()} == before
    assert not station_data_dir.exists()


def test_check_of_a_missing_file(tmp_path: Path, station_data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recipe", "check", str(tmp_path / "nope.toml")]) == 2
    assert "recipe file does not exist" in capsys.readouterr().err


def test_check_refuses_a_recipe_without_a_step_policy(
    demo_recipe: Path, station_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = demo_recipe.read_text(encoding="utf-8")
    policy = "[steps.lock-confirm]\ntimeout_seconds = 20\nretries = 1\n"
    assert policy in text
    demo_recipe.write_text(text.replace(policy, ""), encoding="utf-8")
    assert main(["recipe", "check", str(demo_recipe)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        "station: error [RECIPE]: recipe.toml: steps: no policy for step(s) lock-confirm: every step needs one"
    )
    assert not station_data_dir.exists()
