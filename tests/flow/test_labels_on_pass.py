"""Labels on PASS, end to end: simulated units through the station's provisioning jobs, a
loopback printer on 127.0.0.1 that keeps every label it receives (tests/label_printer.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from biip.gs1_messages import GS1Message
from label_printer import LoopbackPrinter, closed_port

from station.app import main
from station.config.settings import SlotSettings
from station.domain.errors import AccessError, LabelError
from station.domain.label import LabelState
from station.domain.outcome import AttemptOutcome
from station.domain.zpl import field_hex_decoded, zpl_commands
from station.flow.observer import QuietObserver
from station.operations.labels import Labels
from station.sim.demo import DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN
from station.sim.units import Faults, SimUnit

from .conftest import Line

GTIN = "09506000134352"
TEMPLATE = (
    "^XA\n"
    "^FO20,20^A0N,30,30^FD{serial}^FS\n"
    "^FO20,60^A0N,20,20^FD{product} {firmware}^FS\n"
    "^FO20,90^A0N,20,20^FDID {device_id} {date}^FS\n"
    "^FO20,120^BXN,4,200,,,,_^FD{gs1}^FS\n"
    "^XZ\n"
)


@pytest.fixture
def printer() -> Iterator[LoopbackPrinter]:
    with LoopbackPrinter() as started:
        yield started


def labelled_line(make_line: Callable[..., Line], tmp_path: Path, port: int) -> Line:
    template = tmp_path / "label.zpl"
    template.write_text(TEMPLATE, encoding="ascii")
    pinned = hashlib.sha256(template.read_bytes()).hexdigest()
    table = (f'[label]\ntemplate = "{template}"\ntemplate_sha256 = "{pinned}"'
             f'\nprinter = "tcp://127.0.0.1:{port}"\ngtin = "{GTIN}"\ntimeout_seconds = 3.0\n\n[activation]\n')
    return make_line(replacements={"[activation]\n": table})


def run(line: Line, serial: str, unit: SimUnit) -> AttemptOutcome:
    """The unit through the station's provisioning job, as the window and the CLI start it."""
    settings = SlotSettings("1", unit.probe_id, line.environment.console_path(unit))
    job = line.station.units.provisioning_job(line.station.production.parse_unit_label(serial, "1"), settings, "ann")
    return job.run(QuietObserver())


def labels_of(line: Line) -> Labels:
    assert line.station.units.labels is not None
    return line.station.units.labels


def label_fields(label: bytes) -> list[str]:
    _, commands = zpl_commands(label.decode("ascii"))
    found = []
    for index, command in enumerate(commands):
        if command.name == "^FD":
            hexed = commands[index - 1].name == "^FH"
            found.append(field_hex_decoded(command.parameters) if hexed else command.parameters)
    return found


def test_one_well_formed_label_per_passed_unit_and_none_for_a_failed_one(
    make_line: Callable[..., Line], tmp_path: Path, printer: LoopbackPrinter
) -> None:
    line = labelled_line(make_line, tmp_path, printer.port)
    passed = [run(line, f"TST-00070{number}", line.new_unit()) for number in (1, 2)]
    assert all(outcome.passed for outcome in passed), [outcome.summary for outcome in passed]
    failing = line.new_unit()
    with failing.locked():
        failing.info.faults = Faults(console="silent")
    failed = run(line, "TST-000709", failing)
    assert not failed.passed

    jobs = printer.wait_for(2)
    assert len(jobs) == 2  # one each, none for TST-000709
    for outcome, label in zip(passed, jobs, strict=True):
        record = outcome.record
        assert record is not None and record.ended_at is not None
        names = [command.name for command in zpl_commands(label.decode("ascii"))[1]]
        assert names[0] == "^XA" and names[-1] == "^XZ" and names.count("^FD") == names.count("^FS") == 4
        serial, product, identity, datamatrix = label_fields(label)
        assert serial == outcome.serial and product == f"{line.recipe.product} {line.recipe.firmware_version}"
        assert identity == f"ID {record.device_id} {record.ended_at.date().isoformat()}"
        message = GS1Message.parse(datamatrix.removeprefix("_1"))  # FNC1 first: a GS1 DataMatrix
        assert datamatrix.startswith("_1") and {e.ai.ai: e.value for e in message.element_strings} == {
            "01": GTIN, "11": f"{record.ended_at:%y%m%d}", "21": outcome.serial}
        [job] = labels_of(line).jobs(outcome.serial)
        assert job.state is LabelState.PRINTED and job.tries == 1
        assert job.zpl_sha256 == hashlib.sha256(label).hexdigest()
    assert labels_of(line).jobs("TST-000709") == []
    with pytest.raises(LabelError, match="only a passed unit gets a label"):
        line.station.database.labels.create(failed.attempt_id or 0, printer.address)
    with pytest.raises(LabelError, match="has its label already"):
        line.station.database.labels.create(passed[0].attempt_id or 0, printer.address)
    assert line.station.database.verify_chain(line.station.station_key).ok


def test_a_printer_that_is_down_leaves_the_unit_passed_and_its_label_pending_until_it_is_back(
    make_line: Callable[..., Line], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    line = labelled_line(make_line, tmp_path, port)
    outcome = run(line, "TST-000801", line.new_unit())
    assert outcome.passed  # the printer is no part of the unit's result
    [job] = labels_of(line).pending()
    assert (job.serial, job.state, job.tries) == ("TST-000801", LabelState.PENDING, 1)
    assert job.last_error is not None and "refused the connection" in job.last_error

    data_dir = str(line.environment.paths.data_dir)
    assert main(["units", "show", "TST-000801", "--data-dir", data_dir]) == 0
    assert "label pending on tcp://127.0.0.1" in capsys.readouterr().out
    assert main(["labels", "pending", "--data-dir", data_dir]) == 0
    assert "TST-000801" in capsys.readouterr().out

    with LoopbackPrinter(port) as printer:  # back on the same address
        second = run(line, "TST-000802", line.new_unit())  # the next pass prints its own, then the pending one
        assert second.passed
        labels = printer.wait_for(2)
        assert sorted(label_fields(label)[0] for label in labels) == ["TST-000801", "TST-000802"]
        assert labels_of(line).retry_pending() == [] and labels_of(line).pending() == []
        with pytest.raises(LabelError, match="no label pending"):
            labels_of(line).retry("TST-000801")
        [printed] = labels_of(line).jobs("TST-000801")
        assert printed.state is LabelState.PRINTED and printed.tries == 2
        assert len(printer.jobs) == 2  # printed once each: no duplicate


def test_a_reprint_needs_a_supervisors_pin_and_is_audited(
    make_line: Callable[..., Line], tmp_path: Path, printer: LoopbackPrinter
) -> None:
    line = labelled_line(make_line, tmp_path, printer.port)
    assert run(line, "TST-000901", line.new_unit()).passed
    printer.wait_for(1)
    labels = labels_of(line)
    with pytest.raises(AccessError):
        labels.reprint("TST-000901", DEMO_SUPERVISOR, "0000")  # wrong PIN
    with pytest.raises(AccessError):
        labels.reprint("TST-000901", "ann", "")  # an operator is no supervisor
    assert len(labels.jobs("TST-000901")) == 1 and len(printer.jobs) == 1

    reprint = labels.reprint("TST-000901", DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN)
    first = labels.jobs("TST-000901")[0]
    assert reprint.state is LabelState.PRINTED and reprint.reprint_of == first.id
    assert reprint.supervisor == DEMO_SUPERVISOR and reprint.zpl_sha256 == first.zpl_sha256  # the same label
    assert printer.wait_for(2)[1] == printer.jobs[0]
    events = [(entry.actor, entry.action, entry.detail)
              for entry in line.station.database.audit_log().entries() if entry.action == "label.reprint"]  # fmt: skip
    assert len(events) == 1 and events[0][0] == f"supervisor:{DEMO_SUPERVISOR}"
    assert f"reprints job {first.id}" in events[0][2]
    with pytest.raises(LabelError, match="has not passed"):
        labels.reprint("TST-999999", DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN)
    assert line.station.database.verify_chain(line.station.station_key).ok
