"""``station selftest`` and a recipe that requires it, from the command line on a simulated line:
production scans are refused, untouched, until a self-test on the recipe's golden unit passed
(a failed one does not count); the golden unit itself is made like any unit; ``--json`` too."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from station.app import main
from station.sim import board
from station.sim.units import SimUnit

from .conftest import Line
from .test_crash_and_secrets import station_environment

SUPERVISOR, PIN = "sue", "4321"
GOLDEN = "TST-003101"
REQUIRED = {"[activation]": f'[selftest]\ngolden = ["{GOLDEN}"]\nrequired = true\nvalid_for = "shift"\n\n[activation]'}


@pytest.fixture
def required_line(make_line: Callable[..., Line], monkeypatch: pytest.MonkeyPatch) -> Line:
    line = make_line(replacements=REQUIRED)
    for name, value in station_environment(line).items():
        monkeypatch.setenv(name, value)
    line.station.people.add(SUPERVISOR, "supervisor", PIN)
    return line


def on_probe(line: Line, unit: SimUnit) -> list[str]:
    return ["--recipe", str(line.recipe.path), "--probe", unit.probe_id, "--console",
            line.environment.console_path(unit)]  # fmt: skip


def provision(line: Line, unit: SimUnit, serial: str) -> list[str]:
    return ["provision", "--serial", serial, *on_probe(line, unit), "--operator", "ann"]


def pin_file(tmp_path: Path) -> str:
    path = tmp_path / "pin"
    path.write_text(PIN + "\n")
    path.chmod(0o600)
    return str(path)


def test_production_waits_for_a_passed_selftest_on_the_recipes_golden_unit(
    required_line: Line, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = required_line
    assert line.recipe.selftest.required and line.recipe.selftest.golden == (GOLDEN,)
    golden, product = line.new_unit(), line.new_unit()

    # The recipe's golden unit is made like any unit, though no self-test passed yet.
    assert main(provision(line, golden, GOLDEN)) == 0
    assert f"PASS {GOLDEN}" in capsys.readouterr().out

    # A production unit is refused before it is touched.
    assert main(provision(line, product, "TST-003102")) == 1
    refused = capsys.readouterr().out
    assert "FAIL TST-003102 scan SELFTEST_REQUIRED: the recipe requires a passed station self-test on its " \
           f"golden unit ({GOLDEN}) within the current shift: none passed at station line-1-station-1" in refused
    assert product.reload().boot_count == 0 and product.read_nvm(0, board.FLASH_SIZE) == b"\xff" * board.FLASH_SIZE
    assert line.station.database.attempts.latest_attempt("TST-003102") is None

    # Not yet golden: the self-test is refused, nothing is recorded.
    assert main(["selftest", *on_probe(line, golden), "--operator", "ann"]) == 2
    assert "station: error [NOT_GOLDEN]: none of the recipe's golden units (TST-003101) is marked golden here" \
        in capsys.readouterr().err
    assert main(["units", "golden", GOLDEN, "--supervisor", SUPERVISOR, "--pin-file", pin_file(tmp_path)]) == 0
    marked = capsys.readouterr().out
    assert f"unit {GOLDEN} is now a golden reference unit" in marked and "reference 1 from attempt " in marked

    # A self-test with another unit on the probe fails, is recorded, and lets no unit through.
    assert main(["selftest", *on_probe(line, product), "--operator", "ann"]) == 1
    failing = capsys.readouterr().out
    assert f"FAIL selftest {GOLDEN} (self-test 1): device id: " in failing
    assert "  console    FAILED" in failing
    assert main(provision(line, product, "TST-003102")) == 1
    assert "SELFTEST_REQUIRED" in capsys.readouterr().out

    # The golden unit on the probe: PASS, and production goes on.
    assert main(["selftest", *on_probe(line, golden), "--operator", "ann", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["result"] == "PASS" and document["serial"] == GOLDEN and document["selftest_id"] == 2
    assert [check["check"] for check in document["checks"]] == ["device id", "images", "lock", "console"]
    assert {check["outcome"] for check in document["checks"]} == {"PASSED"} and document["reason"] is None
    assert main(provision(line, product, "TST-003102")) == 0
    assert "PASS TST-003102" in capsys.readouterr().out

    # Everything above is in the chain.
    assert main(["db", "verify"]) == 0
    assert capsys.readouterr().out.startswith("chain OK:")


def test_golden_marking_from_the_unit_on_a_probe_and_the_recipe_check_shows_the_selftest(
    required_line: Line, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = required_line
    golden, stranger = line.new_unit(), line.new_unit()
    assert main(provision(line, golden, GOLDEN)) == 0
    capsys.readouterr()
    marking = ["units", "golden", GOLDEN, "--supervisor", SUPERVISOR, "--pin-file", pin_file(tmp_path), "--json"]
    assert main([*marking, "--probe", golden.probe_id]) == 2  # the three options go together
    assert "--recipe, --probe and --console together" in json.loads(capsys.readouterr().out)["error"]["message"]
    assert main([*marking, *on_probe(line, stranger)]) == 2  # not the unit named: nothing is marked
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["code"] == "GOLDEN_REFERENCE" and f"put unit {GOLDEN} on the probe" in error["message"]
    assert line.station.database.units.golden_serials() == frozenset()

    assert main([*marking, *on_probe(line, golden)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["golden"] is True and document["reference"]["source"] == f"probe {golden.probe_id}"
    assert document["reference"]["locked"] is True  # a unit that passed is locked: its images from its verify
    assert [image["sha256"] for image in document["reference"]["images"]] == list(line.recipe.image_hashes)

    assert main(["recipe", "check", str(line.recipe.path)]) == 0
    assert f"selftest    golden {GOLDEN}; required before production, a pass counts for the current shift" \
        in capsys.readouterr().out
    assert main(["recipe", "check", str(line.recipe.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["selftest"] == {"golden": [GOLDEN], "required": True,
                                                              "valid_for": "shift"}
