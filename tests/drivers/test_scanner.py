"""The USB-CDC barcode scanner driver, against a pseudo-terminal standing in for /dev/ttyACM0."""

from __future__ import annotations

import os
import tty
from collections.abc import Iterator

import pytest

from station.drivers.scanner import ScannerError, SerialScanner


@pytest.fixture
def scanner_pty() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def test_reads_one_scan_per_line_whatever_the_terminator(scanner_pty: tuple[int, str]) -> None:
    master, path = scanner_pty
    with SerialScanner(path) as scanner:
        os.write(master, b"TST-000001\r\nTST-000002\n]C1\x1d0109501101530003\x1d21ABC\tBADGE:anna\r")
        assert scanner.read_scan(1.0) == "TST-000001"
        assert scanner.read_scan(1.0) == "TST-000002"
        assert scanner.read_scan(1.0) == "]C1\x1d0109501101530003\x1d21ABC"
        assert scanner.read_scan(1.0) == "BADGE:anna"
        assert scanner.read_scan(0.1) is None


def test_noise_and_empty_lines_are_dropped(scanner_pty: tuple[int, str]) -> None:
    master, path = scanner_pty
    with SerialScanner(path) as scanner:
        os.write(master, b"\r\n\x00\x07\r\nTST-\x01000003\r\n")
        assert scanner.read_scan(1.0) == "TST-000003"


def test_a_scan_split_across_reads_is_joined(scanner_pty: tuple[int, str]) -> None:
    master, path = scanner_pty
    with SerialScanner(path) as scanner:
        os.write(master, b"TST-00")
        assert scanner.read_scan(0.1) is None
        os.write(master, b"0004\r\n")
        assert scanner.read_scan(1.0) == "TST-000004"


def test_a_missing_port_is_a_clear_error(tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(ScannerError, match="cannot open scanner port"):
        SerialScanner(f"{tmp_path}/no-such-port")
