"""The label printer client: raw TCP to a loopback printer, and clear errors when it is away."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from label_printer import LoopbackPrinter, closed_port

from station.domain.errors import PrinterError
from station.domain.label import PrinterKind, parse_printer
from station.drivers.printer import NetworkPrinter, send_raw_tcp, send_to_cups


def test_a_label_reaches_the_raw_port_whole() -> None:
    label = b"^XA^FO10,10^FDhello^FS^XZ" * 400  # larger than one segment
    with LoopbackPrinter() as printer:
        NetworkPrinter().send(parse_printer(printer.address), label, timeout_seconds=5)
        assert printer.wait_for(1) == [label]


def test_an_offline_printer_is_a_printer_error_naming_it() -> None:
    port = closed_port()
    with pytest.raises(PrinterError, match=rf"printer tcp://127.0.0.1:{port} refused the connection"):
        send_raw_tcp("127.0.0.1", port, b"^XA^XZ", timeout_seconds=2)


def test_an_unknown_host_is_a_printer_error() -> None:
    with pytest.raises(PrinterError, match="host name is not known"):
        send_raw_tcp("no-such-printer.invalid", 9100, b"^XA^XZ", timeout_seconds=2)


def test_printer_addresses_are_parsed_strictly() -> None:
    tcp = parse_printer("tcp://10.0.0.5:9100")
    assert (tcp.kind, tcp.host, tcp.port, str(tcp)) == (PrinterKind.TCP, "10.0.0.5", 9100, "tcp://10.0.0.5:9100")
    cups = parse_printer("cups:Zebra_ZT410")
    assert (cups.kind, cups.queue, str(cups)) == (PrinterKind.CUPS, "Zebra_ZT410", "cups:Zebra_ZT410")
    for wrong in ("10.0.0.5:9100", "tcp://host", "tcp://host:0", "tcp://host:70000", "cups:", "cups:a b", "lpt1"):
        with pytest.raises(ValueError):
            parse_printer(wrong)


def _fake_lp(directory: Path, script: str) -> None:
    lp = directory / "lp"
    lp.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    lp.chmod(lp.stat().st_mode | stat.S_IXUSR)


def test_cups_gets_the_label_raw_on_lp_and_no_secret_in_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    received = tmp_path / "received"
    _fake_lp(tmp_path, f'echo "$@" > {received}.args; env > {received}.env; cat > {received}\n')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STATION_VAULT_PASSPHRASE", "secret-passphrase")
    send_to_cups("Zebra", b"^XA^XZ", timeout_seconds=10)
    assert received.read_bytes() == b"^XA^XZ"
    assert Path(f"{received}.args").read_text(encoding="utf-8").split() == ["-d", "Zebra", "-o", "raw"]
    assert "secret-passphrase" not in Path(f"{received}.env").read_text(encoding="utf-8")


def test_a_queue_lp_does_not_know_or_no_lp_at_all_is_a_printer_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_lp(tmp_path, 'echo "lp: The printer or class does not exist." >&2; exit 1\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PrinterError, match="CUPS queue Nope refused the label: lp: The printer or class does not"):
        send_to_cups("Nope", b"^XA^XZ", timeout_seconds=10)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PrinterError, match="lp command is not installed"):
        send_to_cups("Zebra", b"^XA^XZ", timeout_seconds=10)
