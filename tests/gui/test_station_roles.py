"""The operator station beyond the operator view: a real line's settings and serial scanner,
crash-recovery inspections, the engineer's CA and tokens, kiosk mode, and the paged history."""

from __future__ import annotations

import os
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QTableView

from station.app import CompositionRoot
from station.app.windows import build_line_window
from station.config import (
    CA_PASSPHRASE_ENVIRONMENT_VARIABLE,
    VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE,
    configured_station_name,
)
from station.config.settings import ScannerSettings, SlotSettings, StationSettings, save_settings
from station.domain.errors import PermanentLockError
from station.domain.records import AttemptFilter, AttemptResult, JournalState
from station.gui.history import PAGE_SIZE, AttemptHistoryModel
from station.gui.main import StationWindow
from station.gui.slot_states import ActionResult, BannerLevel, Verdict
from station.operations.station import StationOptions
from station.sim.demo import (
    DEMO_CA_PASSPHRASE,
    DEMO_ENGINEER,
    DEMO_ENGINEER_PIN,
    DEMO_SUPERVISOR,
    DEMO_SUPERVISOR_PIN,
    DEMO_VAULT_PASSPHRASE,
    prepare_demo,
)
from station.sim.units import SIM_DIR_ENVIRONMENT_VARIABLE
from station.store import open_database
from station.store.bulk import generate_attempts
from station.store.pages import AttemptPages

from .conftest import DEFAULT_TIMEOUT_MS, running_qthreads, wait_finished, wait_ready

StationFactory = Callable[..., StationWindow]


def test_a_real_line_runs_from_its_settings_with_a_serial_scanner(
    tmp_path: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`station gui`: recipe, slots and scanner from station.toml; passphrases from the environment."""
    monkeypatch.setenv(SIM_DIR_ENVIRONMENT_VARIABLE, str(tmp_path / "demo" / "sim"))
    environment = prepare_demo(tmp_path / "demo")
    unit = environment.create_units(1)[0]
    database = open_database(environment.paths.db_url)
    database.registry.upsert_operator("ann", "operator", pin_hash=None)
    database.dispose()
    scanner_master, scanner_slave = os.openpty()
    tty.setraw(scanner_slave)
    settings_path = tmp_path / "station.toml"
    save_settings(
        StationSettings(
            recipe=environment.recipe_path,
            work_order="WO-77",
            slots=(SlotSettings("A", unit.probe_id, environment.console_path(unit)),),
            scanner=ScannerSettings(serial_port=os.ttyname(scanner_slave)),
        ),
        settings_path,
    )
    monkeypatch.setenv(CA_PASSPHRASE_ENVIRONMENT_VARIABLE, DEMO_CA_PASSPHRASE)
    monkeypatch.setenv(VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE, DEMO_VAULT_PASSPHRASE)
    station = None
    try:
        with environment.console_server():
            options = StationOptions(
                data_dir=environment.paths.data_dir, db_url=environment.paths.db_url, settings_path=settings_path
            )
            station = build_line_window(CompositionRoot(), options, language="en", sounds=False,
                                        install_error_hooks=False)  # fmt: skip
            qtbot.addWidget(station.window)
            station.window.show()
            line = station.line
            wait_ready(qtbot, line)
            os.write(scanner_master, b"BADGE:ann\r\n")
            qtbot.waitUntil(lambda: line.user is not None, timeout=10_000)
            os.write(scanner_master, b"TST-000777\r\n")
            qtbot.waitUntil(lambda: line.slot_states["A"].serial == "TST-000777", timeout=10_000)
            wait_finished(qtbot, line, "A")
            assert line.slot_states["A"].verdict is Verdict.PASS
            attempt = station.operations.database.attempts.latest_attempt("TST-000777")
            assert attempt is not None
            assert (attempt.operator, attempt.work_order, attempt.probe_id) == ("ann", "WO-77", unit.probe_id)
            assert station.close()
    finally:
        if station is not None:
            station.close()
        os.close(scanner_master)
        os.close(scanner_slave)
        unit.close()
    assert not running_qthreads()


def test_crash_recovery_flags_a_unit_and_the_supervisor_acknowledges_it(
    tmp_path: Path, station_factory: StationFactory, qtbot: Any
) -> None:
    environment = prepare_demo(tmp_path / "demo")
    database = open_database(environment.paths.db_url)
    recipe_text = environment.recipe_path.read_text(encoding="utf-8")
    recipe = database.registry.record_recipe(recipe_text, "ACME-TOASTER")
    attempt = database.attempts.create_attempt(
        serial="TST-000900", station=configured_station_name(), operator="night-shift", recipe_hash=recipe.sha256,
        product="ACME-TOASTER", probe_id="sim:unit-9999",
    )
    database.attempts.advance(attempt.id, JournalState.LOCK_PENDING)  # then the station died
    database.dispose()

    station = station_factory()
    line, window = station.line, station.window
    assert station.operations.database.attempts.get_attempt(attempt.id).result is AttemptResult.NEEDS_INSPECTION
    assert [flagged.id for flagged in line.inspections()] == [attempt.id]
    assert line.banner.level is BannerLevel.ATTENTION
    with pytest.raises(Exception, match="supervisor"):
        line.acknowledge_inspection(attempt.id, "looked at it", DEMO_SUPERVISOR_PIN)
    line.sign_in(DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN)
    view = window.supervisor_view
    view.ask_pin = lambda _what: DEMO_SUPERVISOR_PIN
    window.show_view(view)
    assert view.inspection_list.count() == 1
    view.inspection_list.setCurrentRow(0)
    view.acknowledge()  # without a note: refused
    assert view.inspection_message.property("level") == "error"
    view.inspection_note.setText("unit found locked, set aside for rework")
    view.acknowledge()
    assert view.inspection_list.count() == 0 and line.inspections() == []
    entries = [entry for entry in station.operations.database.audit_log().entries()
               if entry.action == "inspection.acknowledge"]
    assert len(entries) == 1 and entries[0].actor == f"supervisor:{DEMO_SUPERVISOR}"
    assert "set aside for rework" in entries[0].detail


def test_engineer_opens_the_ca_and_imports_tokens(
    tmp_path: Path, station_factory: StationFactory, qtbot: Any
) -> None:
    station = station_factory()
    line = station.line
    results: list[ActionResult] = []
    with pytest.raises(Exception, match="engineer"):
        line.engineer.open_ca(DEMO_CA_PASSPHRASE, results.append)
    line.sign_in(DEMO_ENGINEER, DEMO_ENGINEER_PIN)
    line.engineer.open_ca("not the passphrase", results.append)
    qtbot.waitUntil(lambda: len(results) == 1, timeout=DEFAULT_TIMEOUT_MS)
    assert not results[0].ok and "passphrase" in results[0].message
    line.engineer.create_ca("Another CA", "another-passphrase", results.append)
    qtbot.waitUntil(lambda: len(results) == 2, timeout=DEFAULT_TIMEOUT_MS)
    assert not results[1].ok and "already exists" in results[1].message
    line.engineer.open_ca(DEMO_CA_PASSPHRASE, results.append)
    qtbot.waitUntil(lambda: len(results) == 3, timeout=DEFAULT_TIMEOUT_MS)
    assert results[2].ok and line.ca_loaded

    token_file = tmp_path / "tokens.txt"
    token_file.write_text("tok-one-AAAAAAAAAAAAAAAAAAAA\ntok-two-BBBBBBBBBBBBBBBBBBBB\n", encoding="utf-8")
    line.engineer.import_tokens(token_file, "ACME-TOASTER", 5, DEMO_VAULT_PASSPHRASE, results.append)
    qtbot.waitUntil(lambda: len(results) == 4, timeout=DEFAULT_TIMEOUT_MS)
    assert results[3].ok and results[3].message.startswith("2 new token(s)")
    line.engineer.import_tokens(token_file, "ACME-TOASTER", 5, "wrong vault passphrase", results.append)
    qtbot.waitUntil(lambda: len(results) == 5, timeout=DEFAULT_TIMEOUT_MS)
    assert not results[4].ok
    actions = [entry.action for entry in station.operations.database.audit_log().entries()]
    assert "ca.load" in actions and actions.count("tokens.import") == 1
    texts = "\n".join(label.text() for label in station.window.findChildren(type(station.window.user_label)))
    assert "tok-one-" not in texts


def test_kiosk_mode_lets_only_an_engineer_close_the_window(station_factory: StationFactory, qtbot: Any) -> None:
    station = station_factory()
    window, line = station.window, station.line
    window.kiosk = True
    window._session_changed()
    assert not window.close() and window.isVisible()
    assert line.banner.level is BannerLevel.ERROR
    line.sign_in(DEMO_ENGINEER, DEMO_ENGINEER_PIN)
    assert window.allow_close


def test_history_model_reads_pages_not_the_whole_table(tmp_path: Path, qtbot: Any) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'history.db'}")
    database.upgrade()
    try:
        summary = generate_attempts(database, 1000, seed=3, transcripts=True)
        pages = AttemptPages(database)
        model = AttemptHistoryModel(pages)
        table = QTableView()
        qtbot.addWidget(table)
        table.setModel(model)
        table.resize(800, 400)
        table.show()
        qtbot.waitExposed(table)
        assert model.rowCount() == summary.attempts
        assert model.pages_read <= 1  # the view drew the first screenful only
        newest, oldest = model.attempt_at(0), model.attempt_at(summary.attempts - 1)
        assert newest is not None and oldest is not None and newest.id > oldest.id
        assert newest.console_transcript == ""  # pages leave transcripts to the unit's detail
        model.attempt_at(PAGE_SIZE * 5 + 3)
        assert model.pages_read <= 3
        model.set_filter(AttemptFilter(result=AttemptResult.FAILED))
        failed = database.attempts.count_attempts(AttemptFilter(result=AttemptResult.FAILED))
        assert 0 < model.rowCount() == failed < summary.attempts
        one = summary.serials[0]
        model.set_filter(AttemptFilter(serials=(one,)))
        assert model.rowCount() == len(database.attempts.history(one))
        assert len(pages.history(one)[0].console_transcript) > 0
    finally:
        database.dispose()


def test_a_fixture_label_sends_the_next_unit_to_its_slot_and_busy_windows_stay_open(
    station_factory: StationFactory, qtbot: Any
) -> None:
    station = station_factory()
    line, window = station.line, station.window
    line.handle_scan("SLOT:2")
    assert line.banner.level is BannerLevel.INFO
    line.handle_scan("TST-000301")
    assert line.slot_states["2"].running and not line.slot_states["1"].running
    assert not window.close()  # a unit is running: the window stays
    wait_finished(qtbot, line, "2")
    assert line.slot_states["2"].verdict is Verdict.PASS


def test_a_supervisor_marks_a_golden_unit_with_the_pin(station_factory: StationFactory, qtbot: Any) -> None:
    station = station_factory()
    line, window = station.line, station.window
    assert window.demo_bar is not None
    serial = window.demo_bar.simulate_scan()
    wait_finished(qtbot, line, "1")
    with pytest.raises(Exception, match="supervisor"):
        line.mark_golden(serial, DEMO_SUPERVISOR_PIN)
    line.sign_in(DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN)
    view = window.supervisor_view
    window.show_view(view)
    view.golden_serial.setText(serial)
    view.ask_pin = lambda _what: "0000"
    view.mark_golden(True)
    assert view.golden_message.property("level") == "error" and "wrong name or PIN" in view.golden_message.text()
    assert station.operations.database.units.golden_serials() == frozenset()
    view.ask_pin = lambda _what: None  # the dialog cancelled: nothing happens
    view.mark_golden(True)
    assert station.operations.database.units.golden_serials() == frozenset()
    view.ask_pin = lambda _what: DEMO_SUPERVISOR_PIN
    view.mark_golden(True)
    assert view.golden_message.property("level") == "ok"
    assert station.operations.database.units.golden_serials() == {serial}
    actions = [(entry.actor, entry.action) for entry in station.operations.database.audit_log().entries()]
    assert (f"supervisor:{DEMO_SUPERVISOR}", "unit.golden") in actions


def test_a_permanent_lock_is_never_offered_rework(
    station_factory: StationFactory, qtbot: Any, tmp_path: Path
) -> None:
    environment = prepare_demo(tmp_path / "demo")
    text = environment.recipe_path.read_text(encoding="utf-8").replace('target = "nrf52840"', 'target = "stm32f429xi"')
    permanent = environment.recipe_path.with_name("recipe-rdp2.toml")
    permanent.write_text(text.replace('method = "nrf52-approtect"', 'method = "stm32-rdp2"\npermanent = true'),
                         encoding="utf-8")
    station = station_factory(recipe_path=permanent)
    line, window = station.line, station.window
    line.sign_in(DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN)
    view = window.supervisor_view
    window.show_view(view)
    assert not view.rework_button.isEnabled() and not view.rework_serial.isEnabled()
    assert "locked for good" in view.rework_warning.text() and "never be reworked" in view.rework_warning.text()
    with pytest.raises(PermanentLockError, match="stm32-rdp2 are locked for good"):
        line.rework("TST-000001", "1", DEMO_SUPERVISOR_PIN)
    actions = [entry.action for entry in station.operations.database.audit_log().entries()]
    assert "unit.rework" not in actions
