"""A simulated production line for end-to-end tests: real pyOCD, real ptys, real store."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from station.app import CompositionRoot, main
from station.app.demo import open_demo_line_station
from station.domain.errors import ScanError
from station.domain.outcome import AttemptOutcome
from station.domain.recipe import CredentialPlan, Recipe
from station.domain.scan import parse_scan
from station.drivers.slots import hardware_slot
from station.flow.run import Slot, StationContext
from station.flow.sequence import UnitProvisioner
from station.operations.station import Station
from station.security.vault import UnlockedVault
from station.sim.console import ConsoleServer
from station.sim.demo import DEMO_CA_PASSPHRASE, DEMO_VAULT_PASSPHRASE, DemoEnvironment, prepare_demo
from station.sim.units import BuildCode, SimUnit, UnitInfo

# Short console timeouts so that a silent console fails in a second, not in half a minute.
FAST_CONSOLE = {
    "command_timeout_seconds = 5.0": "command_timeout_seconds = 0.6",
    "boot_timeout_seconds = 10.0": "boot_timeout_seconds = 1.0",
    "activate_timeout_seconds = 15.0": "activate_timeout_seconds = 1.0",
}


@dataclass
class Line:
    """One station with its demo environment; units are created on demand."""

    environment: DemoEnvironment
    station: Station
    recipe: Recipe
    vault: UnlockedVault
    provisioner: UnitProvisioner
    context: StationContext
    consoles: ConsoleServer
    units: list[SimUnit]
    target: str = "nrf52840"  # the family of the units new_unit makes (the recipe's)

    def new_unit(self, build_code: BuildCode = "legacy") -> SimUnit:
        unit = self.environment.units.create_unit(build_code=build_code, target=self.target)
        self.units.append(unit)
        self.consoles.wait_for_port(unit.unit_id)
        return unit

    def slot(self, unit: SimUnit) -> Slot:
        return hardware_slot("test", unit.probe_id, self.environment.console_path(unit), self.recipe)

    def provision(self, scan: str, unit: SimUnit) -> AttemptOutcome:
        """The unit with this label, as a front end starts it: a label that breaks the rule is refused."""
        try:
            serial = parse_scan(scan, self.recipe.serial_rule)
        except ScanError as error:
            return AttemptOutcome.refused(scan, error)
        return self.provisioner.provision(serial, self.slot(unit), self.context)

    def rework(self, scan: str, unit: SimUnit, supervisor: str) -> AttemptOutcome:
        context = StationContext(self.context.station, supervisor, self.context.work_order)
        return self.provisioner.rework(parse_scan(scan, self.recipe.serial_rule), self.slot(unit), context)

    def all_tokens(self) -> list[str]:
        """The plaintext of every demo token (test-only: to look for it where it must not be)."""
        return [
            self.vault.open(sealed).secret()
            for sealed in self.station.database.tokens.sealed_tokens(self.recipe.activation.token_pool)
        ]


def variant_recipe(
    environment: DemoEnvironment, name: str, replacements: dict[str, str], *, target: str = "nrf52840"
) -> Path:
    """A copy of a family's demo recipe with some text replaced, next to the same images."""
    source = environment.recipe_for(target)
    text = source.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    path = source.with_name(f"{name}.toml")
    path.write_text(text, encoding="utf-8")
    return path


def build_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    plan: CredentialPlan = CredentialPlan.STATION_GENERATED,
    replacements: dict[str, str] | None = None,
    target: str = "nrf52840",
) -> Iterator[Line]:
    """A line running the demo recipe of ``target``'s family on units of that family."""
    environment = demo_environment(tmp_path, monkeypatch, plan)
    recipe_path = variant_recipe(environment, "test-recipe", {**FAST_CONSOLE, **(replacements or {})}, target=target)
    yield from line_on_recipe(environment, recipe_path, target)


def demo_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plan: CredentialPlan = CredentialPlan.STATION_GENERATED
) -> DemoEnvironment:
    """The demo's units, service, CA, vault and recipes in ``tmp_path``, the station named as on a line."""
    monkeypatch.setenv("STATION_SIM_DIR", str(tmp_path / "demo" / "sim"))
    monkeypatch.setenv("STATION_NAME", "line-1-station-1")
    return prepare_demo(tmp_path / "demo", plan=plan)


def line_on_recipe(environment: DemoEnvironment, recipe_path: Path, target: str) -> Iterator[Line]:
    """A station of the demo environment running ``recipe_path`` on units of ``target``."""
    station = open_demo_line_station(CompositionRoot(), environment, recipe_path, work_order="WO-1001")
    recipe = station.production.recipe
    vault = station.production.vault
    assert recipe is not None and vault is not None
    provisioner = station.production.provisioner()
    context = StationContext("line-1-station-1", "ann", "WO-1001")
    units: list[SimUnit] = []
    with environment.console_server() as consoles:
        yield Line(environment, station, recipe, vault, provisioner, context, consoles, units, target)
    for unit in units:
        unit.close()
    station.close()


@pytest.fixture
def line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Line]:
    yield from build_line(tmp_path, monkeypatch)


@pytest.fixture
def make_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Line]]:
    """Build a line with a variant recipe: ``make_line(replacements={...})``."""
    builders: list[Iterator[Line]] = []

    def make(
        replacements: dict[str, str] | None = None,
        plan: CredentialPlan = CredentialPlan.STATION_GENERATED,
        target: str = "nrf52840",
    ) -> Line:
        builder = build_line(tmp_path, monkeypatch, plan=plan, replacements=replacements, target=target)
        builders.append(builder)
        return next(builder)

    yield make
    for builder in builders:
        for _ in builder:
            pass


@pytest.fixture
def device_generated_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Line]:
    yield from build_line(tmp_path, monkeypatch, plan=CredentialPlan.DEVICE_GENERATED)


def secret_free(text: str, secrets: list[str]) -> bool:
    return not any(re.search(re.escape(secret), text) for secret in secrets)


def provision_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], target: str, serial: str,
    check_fresh: Callable[[SimUnit], None] | None = None,
) -> UnitInfo:
    """``station provision`` on a new demo unit of ``target`` (the family's demo recipe), as a
    technician runs it; its output must say PASS. Returns the unit's state afterwards."""
    monkeypatch.setenv("STATION_SIM_DIR", str(tmp_path / "demo" / "sim"))
    monkeypatch.setenv("STATION_CA_PASSPHRASE", DEMO_CA_PASSPHRASE)
    monkeypatch.setenv("STATION_VAULT_PASSPHRASE", DEMO_VAULT_PASSPHRASE)
    environment = prepare_demo(tmp_path / "demo")
    with environment.console_server() as consoles:
        unit = environment.create_units(1, target=target)[0]
        consoles.wait_for_port(unit.unit_id)
        try:
            if check_fresh is not None:
                check_fresh(unit)
            code = main([
                "provision", "--recipe", str(environment.recipe_for(target)), "--serial", serial,
                "--probe", unit.probe_id, "--console", environment.console_path(unit), "--operator", "ann",
                "--data-dir", str(environment.paths.data_dir),
            ])  # fmt: skip
            out = capsys.readouterr().out
            assert code == 0, out
            assert f"PASS {serial}" in out
            return unit.reload()
        finally:
            unit.close()
