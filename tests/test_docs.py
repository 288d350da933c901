"""The documentation states what the code does: the supported targets and lock methods are the
code's registries, and the walkthrough's commands and settings exist as written."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pyocd.target import TARGET

from station.cli import build_parser
from station.config.settings import ProbeSettings, parse_settings
from station.domain.recipe import LOCK_METHOD_TARGETS, SUPPORTED_LOCK_METHODS, LockMethod
from station.drivers.profiles import profile_for_target

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _table_after(text: str, marker: str) -> list[list[str]]:
    """The rows of the first Markdown table after ``marker`` (header and rule left out), cells
    stripped of their backticks."""
    lines = text[text.index(marker):].splitlines()[1:]
    start = next(index for index, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("`") for cell in line.strip().strip("|").split("|")])
    return rows


def test_the_lock_methods_page_lists_the_code_registry() -> None:
    rows = _table_after((DOCS / "targets.md").read_text(encoding="utf-8"), "<!-- lock-methods")
    assert [row[0] for row in rows] == [method.value for method in LockMethod]
    assert {row[0] for row in rows if row[1] == "yes"} == {method.value for method in SUPPORTED_LOCK_METHODS}
    assert {row[0] for row in rows if row[1] == "no"} == {m.value for m in LockMethod} - {
        m.value for m in SUPPORTED_LOCK_METHODS}
    for row in rows:
        if row[1] == "yes":
            method = LockMethod(row[0])
            assert row[2] == ", ".join(f"{prefix}*" for prefix in LOCK_METHOD_TARGETS[method])
            profile = profile_for_target(LOCK_METHOD_TARGETS[method][0])
            meaning = profile.locks[method]
            assert row[3:5] == [profile.family, "yes" if meaning.reversible else "no"]
            assert meaning.recovery in row[5]


def test_the_targets_page_lists_every_target_the_station_can_provision() -> None:
    rows = _table_after((DOCS / "targets.md").read_text(encoding="utf-8"), "<!-- targets")
    supported: dict[str, list[str]] = {}
    for method in LockMethod:  # in the registry's order
        for prefix in LOCK_METHOD_TARGETS.get(method, ()):
            for target in TARGET:
                if target.startswith(prefix):
                    supported.setdefault(target, []).append(method.value)
    assert {row[0]: row[2] for row in rows} == {target: ", ".join(methods) for target, methods in supported.items()}
    for row in rows:  # the station reads the device id of every one, where the page says
        assert row[3] == profile_for_target(row[0]).device_id_source


def test_the_first_product_walkthrough_uses_commands_and_settings_that_exist() -> None:
    text = (DOCS / "first-product.md").read_text(encoding="utf-8")
    shell = "\n".join(re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL))
    commands = set(re.findall(r"^station ([a-z][a-z-]*(?: [a-z][a-z-]*)?)", shell, flags=re.MULTILINE))
    assert {"recipe check", "db upgrade", "ca init", "tokens import", "provision", "units show"} <= commands
    parser = build_parser()
    for command in commands:
        try:
            parser.parse_known_args([*command.split(), "--help"])
        except SystemExit as leaving:
            assert leaving.code == 0, f"station {command} is not a command"
    settings = re.search(r"```toml\n(# station\.toml.*?)```", text, flags=re.DOTALL)
    assert settings is not None
    parsed = parse_settings(tomllib.loads(settings.group(1)), "first-product.md", base_dir=DOCS)
    assert parsed.probe != ProbeSettings()  # the walkthrough shows the SWD clock setting
