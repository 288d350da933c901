"""Signed exports verify; a changed byte, a removed row, a swapped signature each fail, clearly."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from station.app import main
from station.domain.records import AttemptFilter
from station.reports.service import ExportFormat, ExportRequest, ExportResult, export_report
from station.reports.signing import Problem, verify_export
from station.security.station_key import StationKey, load_or_create_station_key
from station.store import Database


def _export(database: Database, key: StationKey, path: Path, export_format: ExportFormat,
            wanted: AttemptFilter | None = None) -> ExportResult:
    return export_report(database, ExportRequest(wanted or AttemptFilter(), export_format, path), signer=key,
                         station="line1-st1")


@pytest.mark.parametrize("export_format", list(ExportFormat))
def test_a_signed_export_verifies_and_records_what_it_covers(
    scenario: Database, station_key: StationKey, tmp_path: Path, export_format: ExportFormat
) -> None:
    result = _export(scenario, station_key, tmp_path / f"wo1{export_format.suffix}", export_format,
                     AttemptFilter(work_order="WO-1"))
    outcome = verify_export(result.path, trusted_key=station_key.public_key)
    assert outcome.ok and outcome.trusted_key and outcome.key_fingerprint == station_key.public_key_fingerprint
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["format"] == export_format.value and manifest["row_count"] == 14 == result.row_count
    assert manifest["filter"] == {"work_order": "WO-1"} and manifest["station"] == "line1-st1"
    assert manifest["file"] == result.path.name and manifest["size"] == result.path.stat().st_size
    assert "BEGIN PUBLIC KEY" in manifest["public_key_pem"]
    assert result.signature_path.stat().st_size == 64
    if export_format is not ExportFormat.PDF:
        assert outcome.rows_recounted == 14


def test_a_changed_byte_a_removed_row_a_swapped_signature_each_fail(
    scenario: Database, station_key: StationKey, tmp_path: Path
) -> None:
    csv_result = _export(scenario, station_key, tmp_path / "all.csv", ExportFormat.CSV)
    json_result = _export(scenario, station_key, tmp_path / "all.ndjson", ExportFormat.JSON)
    pdf_result = _export(scenario, station_key, tmp_path / "all.pdf", ExportFormat.PDF)
    pristine = {path: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()}

    # One byte changed in the middle of the CSV (a PASSED becomes PASSES).
    data = bytearray(csv_result.path.read_bytes())
    where = data.index(b"PASSED", len(data) // 2)
    data[where + 5] = ord("S")
    csv_result.path.write_bytes(bytes(data))
    outcome = verify_export(csv_result.path)
    assert outcome.problems == (Problem.FILE_CHANGED,)
    assert "file changed after signing" in str(outcome.findings[0])

    # One byte of the PDF.
    pdf = bytearray(pdf_result.path.read_bytes())
    pdf[len(pdf) // 3] ^= 0x01
    pdf_result.path.write_bytes(bytes(pdf))
    assert verify_export(pdf_result.path).problems == (Problem.FILE_CHANGED,)

    # A removed row (the NDJSON's third line): the count and the hash both say so.
    lines = json_result.path.read_bytes().splitlines(keepends=True)
    json_result.path.write_bytes(b"".join(lines[:2] + lines[3:]))
    outcome = verify_export(json_result.path)
    assert set(outcome.problems) == {Problem.FILE_CHANGED, Problem.ROW_COUNT}
    assert any("has 16 rows, the manifest says 17" in str(finding) for finding in outcome.findings)

    # Restore, then swap the signatures of two exports.
    for path, content in pristine.items():
        path.write_bytes(content)
    assert all(verify_export(result.path).ok for result in (csv_result, json_result, pdf_result))
    csv_result.signature_path.write_bytes(pristine[json_result.signature_path])
    outcome = verify_export(csv_result.path)
    assert outcome.problems == (Problem.SIGNATURE_MISMATCH,)
    assert str(outcome.findings[0]).startswith("signature does not match")

    # An edited manifest (a row count "fixed" to match a shortened file) breaks the signature.
    csv_result.signature_path.write_bytes(pristine[csv_result.signature_path])
    manifest = json.loads(csv_result.manifest_path.read_text())
    manifest["row_count"] = 16
    csv_result.manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    assert Problem.SIGNATURE_MISMATCH in verify_export(csv_result.path).problems

    # No manifest at all.
    csv_result.manifest_path.unlink()
    outcome = verify_export(csv_result.path)
    assert outcome.problems == (Problem.MANIFEST_MISSING,) and "manifest missing" in str(outcome.findings[0])


def test_a_manifest_signed_by_another_key_is_refused_when_a_key_is_trusted(
    scenario: Database, station_key: StationKey, tmp_path: Path
) -> None:
    impostor = load_or_create_station_key(tmp_path / "impostor.pem")
    result = _export(scenario, impostor, tmp_path / "all.csv", ExportFormat.CSV)
    assert verify_export(result.path).ok  # consistent in itself...
    outcome = verify_export(result.path, trusted_key=station_key.public_key)
    assert outcome.problems == (Problem.UNTRUSTED_KEY,)  # ...but not signed by the station


def test_verify_command(scenario: Database, db_url: str, data_dir: Path, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "wo2.csv"
    assert main(["report", "export", "--format", "csv", "--out", str(out), "--db", db_url, "--work-order", "WO-2"]) == 0
    capsys.readouterr()
    assert main(["report", "verify", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "OK:" in printed and "3 rows (recounted)" in printed and "this station's key" in printed
    public_key = tmp_path / "station.pub"
    assert main(["report", "public-key", "--out", str(public_key)]) == 0
    assert "BEGIN PUBLIC KEY" in public_key.read_text() and "PRIVATE" not in public_key.read_text()
    capsys.readouterr()

    # An auditor's machine: no station key there, only the public key handed over.
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    copied = auditor / out.name
    for suffix in ("", ".manifest.json", ".sig"):
        shutil.copy(f"{out}{suffix}", f"{copied}{suffix}")
    assert main(["report", "verify", str(copied), "--data-dir", str(auditor)]) == 0
    assert "pass --public-key" in capsys.readouterr().out
    assert main(["report", "verify", str(copied), "--public-key", str(public_key)]) == 0
    capsys.readouterr()

    lines = copied.read_text(encoding="utf-8").splitlines(keepends=True)
    copied.write_text("".join(lines[:-1]), encoding="utf-8")
    assert main(["report", "verify", str(copied), "--public-key", str(public_key)]) == 1
    error = capsys.readouterr().err
    assert "FAILED" in error and "row count differs" in error and "file changed after signing" in error

    other = load_or_create_station_key(tmp_path / "other-station" / "station-key.pem")
    other_pem = tmp_path / "other.pub"
    other_pem.write_text(other.public_key_pem())
    assert main(["report", "verify", str(out), "--public-key", str(other_pem)]) == 1
    assert "signed by another key" in capsys.readouterr().err

    Path(f"{out}.manifest.json").unlink()
    assert main(["report", "verify", str(out)]) == 1
    assert "manifest missing" in capsys.readouterr().err


def test_verify_says_whether_the_database_still_extends_the_export(
    scenario: Database, db_url: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "all.csv"
    assert main(["report", "export", "--format", "csv", "--out", str(out), "--db", db_url]) == 0
    head = json.loads(Path(f"{out}.manifest.json").read_text(encoding="utf-8"))["chain_head"]
    assert head["sequence"] == scenario.last_sequence() > 10
    capsys.readouterr()
    assert main(["report", "verify", str(out), "--db", db_url]) == 0
    assert f"made at chain entry {head['sequence']}; the database" in capsys.readouterr().out

    key = load_or_create_station_key(data_dir / "station-key.pem")
    scenario.audit_log(key).append_audit("engineer:eve", "test.note", "later work")
    assert main(["report", "verify", str(out), "--db", db_url]) == 0  # the chain grew: it still extends
    assert f"({head['sequence'] + 1} entries now)" in capsys.readouterr().out

    with scenario.engine.begin() as connection:  # back to an older state: the newest entries removed
        if scenario.engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER audit_log_no_delete"))
        connection.execute(text("DELETE FROM audit_log WHERE sequence >= :first"), {"first": head["sequence"] - 1})
    assert main(["report", "verify", str(out), "--db", db_url]) == 1
    error = capsys.readouterr().err
    assert f"this export records entry {head['sequence']}" in error and "2 entries are missing" in error


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_verifies_the_signature_without_the_station(scenario: Database, station_key: StationKey,
                                                            tmp_path: Path) -> None:
    result = _export(scenario, station_key, tmp_path / "all.csv", ExportFormat.CSV)
    public_key = tmp_path / "station.pub"
    public_key.write_text(station_key.public_key_pem())
    done = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(public_key), "-rawin",
                           "-in", str(result.manifest_path), "-sigfile", str(result.signature_path)],
                          capture_output=True, text=True, check=False)
    if "unknown option" in done.stderr.lower() or "rawin" in done.stderr.lower():
        pytest.skip("this openssl cannot verify Ed25519 from the command line")
    assert done.returncode == 0 and "Signature Verified Successfully" in done.stdout


def test_a_failed_export_leaves_nothing_behind(scenario: Database, station_key: StationKey, tmp_path: Path) -> None:
    from station.reports.errors import ExportCancelledError, ReportError

    target = tmp_path / "old.csv"
    target.write_text("an earlier export\n")
    with pytest.raises(ExportCancelledError):
        export_report(scenario, ExportRequest(AttemptFilter(), ExportFormat.CSV, target), signer=station_key,
                      station="s", cancelled=lambda: True, progress=lambda done, total: None)
    assert target.read_text() == "an earlier export\n"  # the earlier file is untouched
    assert not Path(f"{target}.manifest.json").exists()
    with pytest.raises(ReportError):
        export_report(scenario, ExportRequest(AttemptFilter(), ExportFormat.CSV, tmp_path / "no" / "x.csv"),
                      signer=station_key, station="s")
    assert not list(tmp_path.glob(".*.partial"))
