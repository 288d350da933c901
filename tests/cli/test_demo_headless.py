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
    summary = out[out.index("serial       family       device id"):]
    assert summary.count(" PASS ") == 2
    assert "lock-con" in summary.splitlines()[0]  # every step of the sequence has its column
    demo = tmp_path / "demo"
    assert f"\n  export STATION_DATA_DIR={demo / 'data'} STATION_SIM_DIR={demo / 'sim'}\n" in out
    assert out.rstrip().endswith("  station units show TST-000001\n  station report yield\n"
                                 "  station report export --format csv --out demo.csv\n"
                                 "  station report verify demo.csv\n  pyocd list")
    # The demo directory is kept: a second run continues with new serials on new units.
    assert main(["demo", "--headless", "--units", "1", "--demo-dir", str(tmp_path / "demo")]) == 0
    assert "    PASS TST-000003" in capsys.readouterr().out


def test_a_mixed_line_of_chip_families_passes_with_per_family_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STATION_SIM_DIR", str(tmp_path / "demo" / "sim"))
    arguments = ["demo", "--headless", "--units", "4", "--targets", "nrf52840,stm32f429xi,k64f",
                 "--demo-dir", str(tmp_path / "demo")]  # fmt: skip
    assert main(arguments) == 0
    out = capsys.readouterr().out
    for serial in ("TST-000001", "KET-000001", "FRG-000001", "TST-000002"):
        assert f"    PASS {serial}" in out
    rows = out[out.index("serial       family"):].splitlines()
    assert [row.split()[:2] for row in rows[2:6]] == [
        ["TST-000001", "nrf52840"], ["KET-000001", "stm32f429xi"], ["FRG-000001", "k64f"],
        ["TST-000002", "nrf52840"]]  # fmt: skip
    assert [len(rows[index].split()[2]) for index in (2, 3, 4)] == [16, 24, 32]  # 64, 96, 128-bit ids
    figures = out[out.index("family       units passed"):].splitlines()
    assert [line.split()[:3] for line in figures[1:4]] == [
        ["nrf52840", "2", "2"], ["stm32f429xi", "1", "1"], ["k64f", "1", "1"]]  # fmt: skip


def test_an_unknown_family_is_refused_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STATION_SIM_DIR", str(tmp_path / "demo" / "sim"))
    assert main(["demo", "--headless", "--targets", "nrf52840,esp32", "--demo-dir", str(tmp_path / "demo")]) == 2
    assert "--targets takes simulated chip families separated by commas" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


def test_without_a_display_the_demo_says_it_runs_headless(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STATION_SIM_DIR", str(tmp_path / "demo" / "sim"))
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # draws nowhere: no window, and the demo says so
    assert main(["demo", "--units", "1", "--demo-dir", str(tmp_path / "demo")]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith(
        "station demo: QT_QPA_PLATFORM=offscreen draws windows nowhere a person can see them: running the demo "
        "headless (as --headless"
    )
    assert "For the window, run it in a desktop session" in captured.err
    assert "    PASS TST-000001" in captured.out


@pytest.mark.parametrize(
    ("environment", "problem"),
    [
        ({}, "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"),
        ({"DISPLAY": ":0"}, None),
        ({"WAYLAND_DISPLAY": "wayland-0"}, None),
        ({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, "QT_QPA_PLATFORM=offscreen draws windows nowhere"),
        ({"QT_QPA_PLATFORM": "minimal"}, "QT_QPA_PLATFORM=minimal draws windows nowhere"),
        ({"QT_QPA_PLATFORM": "eglfs"}, None),  # draws straight on the screen, no X needed
    ],
)
def test_one_rule_says_whether_a_window_can_be_shown(
    environment: dict[str, str], problem: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from station.cli.display import window_problem

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    found = window_problem()
    assert (found is None) if problem is None else (found is not None and found.startswith(problem))
