"""``station recipe check``: prints what the recipe does and its hash; a bad recipe exits 2 and writes nothing."""

from __future__ import annotations

import hashlib
import json
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


def test_check_says_which_device_profile_and_lock_apply_and_what_the_lock_means(
    demo_recipe: Path, station_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["recipe", "check", str(demo_recipe)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "profile     nRF52 (nrf52840), device id from FICR DEVICEID (0x10000060, 64 bits)" in lines
    assert ("lock        nrf52-approtect: reversible only by a CTRL-AP mass erase (ERASEALL), which erases "
            "flash, UICR and RAM and makes the unit a development unit") in lines
    assert main(["recipe", "check", "--json", str(demo_recipe)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["device_profile"] == "nRF52"
    assert document["lock"] == {
        "method": "nrf52-approtect", "reversible": True,
        "recovery": "a CTRL-AP mass erase (ERASEALL), which erases flash, UICR and RAM "
                    "and makes the unit a development unit",
        "permanent": False, "parts_ship_protected": False}  # fmt: skip


def test_check_names_the_stm32_profile_and_warns_of_a_permanent_lock(
    demo_recipe: Path, station_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = demo_recipe.read_text(encoding="utf-8").replace('target = "nrf52840"', 'target = "stm32f429xi"')
    rdp2 = text.replace('method = "nrf52-approtect"', 'method = "stm32-rdp2"')
    demo_recipe.write_text(rdp2, encoding="utf-8")
    assert main(["recipe", "check", str(demo_recipe)]) == 2
    assert "the recipe must say permanent = true to write it" in capsys.readouterr().err

    demo_recipe.write_text(rdp2.replace('method = "stm32-rdp2"', 'method = "stm32-rdp2"\npermanent = true'),
                           encoding="utf-8")
    assert main(["recipe", "check", str(demo_recipe)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "profile     STM32F4 (stm32f429xi), device id from UID (0x1FFF7A10, 96 bits)" in lines
    assert ("lock        stm32-rdp2: permanent: RDP level 2 disables the debug port and freezes the option bytes "
            "for good; no erase reopens the unit and it can never be reworked") in lines
    assert ("WARNING     permanent lock: units locked by stm32-rdp2 are locked for good: no erase reopens them, "
            "so no rework") in lines


def test_check_refuses_a_lock_method_that_does_not_fit_the_target(
    demo_recipe: Path, station_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = demo_recipe.read_text(encoding="utf-8")
    assert 'target = "nrf52840"' in text
    demo_recipe.write_text(text.replace('target = "nrf52840"', 'target = "stm32f429xi"'), encoding="utf-8")
    before = {path.name: path.read_bytes() for path in demo_recipe.parent.iterdir()}

    assert main(["recipe", "check", str(demo_recipe)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert ("recipe.toml: [lock] method: lock method 'nrf52-approtect' is for nrf52* targets, not 'stm32f429xi'"
            in captured.err)
    assert {path.name: path.read_bytes() for path in demo_recipe.parent.iterdir()} == before
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


def test_check_names_every_problem_of_the_file_a_line_each(
    demo_recipe: Path, station_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = demo_recipe.read_text(encoding="utf-8")
    text = text.replace("schema = 1\n", "schema = 1\ncolour = \"red\"\n", 1)
    text = text.replace("baud_rate = 115200", "baud_rate = 1", 1)
    text = text.replace("[steps.lock-confirm]\ntimeout_seconds = 20\nretries = 1\n", "")
    image = demo_recipe.parent / "application.bin"
    image.write_bytes(image.read_bytes()[:-4] + b"\0\0\0\0")
    demo_recipe.write_text(text, encoding="utf-8")
    before = {path.name: path.read_bytes() for path in demo_recipe.parent.iterdir()}

    assert main(["recipe", "check", str(demo_recipe)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 4, captured.err
    assert all(line.startswith("station: error [RECIPE]: recipe.toml: ") for line in lines)
    assert "colour: unknown key" in lines[0]
    assert "[images.application] sha256: image hash differs from the pinned one" in lines[1]
    assert "[console] baud_rate: must be at least 300, not 1" in lines[2]
    assert "steps: no policy for step(s) lock-confirm" in lines[3]
    assert {path.name: path.read_bytes() for path in demo_recipe.parent.iterdir()} == before
    assert not station_data_dir.exists()


def test_the_demo_writes_a_recipe_a_clean_clone_can_check(
    tmp_path: Path, station_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "my recipe"
    assert main(["demo", "--write-recipe", str(folder)]) == 0
    out = capsys.readouterr().out
    recipe = folder / "recipe.toml"
    assert f"check it with:  station recipe check '{recipe}'" in out
    assert sorted(path.name for path in folder.iterdir()) == [
        "app-header.bin", "application.bin", "bootloader.bin", "firmware.elf", "firmware.hex", "recipe.toml"
    ]
    assert main(["recipe", "check", str(recipe)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("OK: the recipe is valid and every image matches its pinned hash")

    # Never over files that are there: refused before anything is written.
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    assert main(["demo", "--write-recipe", str(folder)]) == 2
    assert "already holds recipe.toml, bootloader.bin" in capsys.readouterr().err
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
    assert not station_data_dir.exists()
