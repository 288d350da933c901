"""``station demo --headless``: the training station's units provisioned one after another, through
the same composition root and operations as the window, with a summary table at the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.app import main


def test_the_headless_demo_provisions_every_unit_and_prints_a_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STATION_SIM_DIR", str(tmp_path / "demo" / "sim"))
    assert main(["demo", "--headless", "--units", "2", "--demo-dir", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert f"demo directory: {tmp_path / 'demo'}" in out
    assert "    PASS TST-000001" in out and "    PASS TST-000002" in out
    summary = out[out.index("serial       device id"):]
    assert summary.count(" PASS ") == 2
    assert "lock-con" in summary.splitlines()[0]  # every step of the sequence has its column
    assert "history: station units show TST-000001 --db sqlite:///" in out
    # The demo directory is kept: a second run continues with new serials on new units.
    assert main(["demo", "--headless", "--units", "1", "--demo-dir", str(tmp_path / "demo")]) == 0
    assert "    PASS TST-000003" in capsys.readouterr().out
