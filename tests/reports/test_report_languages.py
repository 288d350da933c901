"""The PDF report in every language of the station: its catalogue is complete, a Chinese report
carries its own CJK font (embedded) and reads as Chinese, a Spanish one as Spanish, and a
language the report does not speak, or a Chinese report without a font, is refused before
anything is written."""

from __future__ import annotations

import json
import re
import shutil
import string
import subprocess
from pathlib import Path

import pytest

from station.app import main
from station.domain.languages import ENGLISH, LANGUAGES
from station.domain.records import AttemptFilter
from station.reports import fonts
from station.reports.errors import ReportError
from station.reports.service import ExportFormat, ExportRequest, export_report
from station.reports.signing import verify_export
from station.reports.texts import CATALOGUES, ReportTexts
from station.security.station_key import StationKey
from station.store import Database

from .pdf_support import needs_poppler, pdf_text

# The Chinese report is set with full-width punctuation, and so are the words these tests look for.
# ruff: noqa: RUF001

needs_cjk_font = pytest.mark.skipif(
    not any(candidate.path.is_file() for candidate in fonts.CJK_FONTS),
    reason=f"no CJK TrueType font; scripts/test installs {fonts.CJK_FONT_PACKAGE}",
)
needs_pdffonts = pytest.mark.skipif(shutil.which("pdffonts") is None, reason="pdffonts (poppler-utils) is missing")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_language_has_every_key_with_the_same_placeholders() -> None:
    assert set(CATALOGUES) == set(LANGUAGES)
    reference = CATALOGUES[ENGLISH]
    for language, words in CATALOGUES.items():
        assert set(words) == set(reference), (
            f"{language}: missing {sorted(set(reference) - set(words))}, extra {sorted(set(words) - set(reference))}")
        for key, text in words.items():
            assert text.strip(), f"{language}: {key} is empty"
            assert _placeholders(text) == _placeholders(reference[key]), f"{language}: {key} {text!r}"
            assert not set(text) & set("<>&"), f"{language}: {key}: paragraph markup in the words"
        if language != ENGLISH:
            same = [key for key in ("title", "heading.yield", "label.first_pass_yield", "units.empty")
                    if words[key] == reference[key]]
            assert not same, f"{language}: left in English: {same}"


def test_a_language_the_report_does_not_speak_is_refused(scenario: Database, station_key: StationKey,
                                                        tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="choose one of en, zh_CN, es"):
        ReportTexts("fr")
    target = tmp_path / "report.pdf"
    with pytest.raises(ReportError, match="no language 'fr'"):
        export_report(scenario, ExportRequest(AttemptFilter(), ExportFormat.PDF, target, language="fr"),
                      signer=station_key, station="line1")
    assert list(tmp_path.glob("report.pdf*")) == [] and list(tmp_path.glob(".report.pdf*")) == []


def test_a_chinese_report_without_a_cjk_font_is_refused_and_nothing_is_written(
    scenario: Database, station_key: StationKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fonts, "CJK_FONTS", (fonts.CjkFont(tmp_path / "no-such-font.ttc", 0, 1),))
    target = tmp_path / "report.pdf"
    with pytest.raises(ReportError, match="apt-get install fonts-wqy-microhei"):
        export_report(scenario, ExportRequest(AttemptFilter(), ExportFormat.PDF, target, language="zh_CN"),
                      signer=station_key, station="line1")
    assert list(tmp_path.glob("*report.pdf*")) == []


@needs_poppler
@needs_cjk_font
@needs_pdffonts
def test_the_pdf_in_chinese_and_spanish_reads_in_that_language(
    scenario: Database, station_key: StationKey, tmp_path: Path
) -> None:
    written = {}
    for language in ("zh_CN", "es"):
        target = tmp_path / f"report-{language}.pdf"
        result = export_report(scenario, ExportRequest(AttemptFilter(), ExportFormat.PDF, target, language=language),
                               signer=station_key, station="line1")
        assert result.row_count == 17 and verify_export(target).ok
        manifest = json.loads(result.manifest_path.read_text(encoding="utf-8"))
        assert manifest["language"] == language
        written[language] = re.sub(r"\s+", " ", pdf_text(target))

    chinese = written["zh_CN"]
    for heading in ("追溯报告", "筛选条件", "汇总", "直通率", "最终良率", "按代码统计的失败", "各步骤用时", "产品明细"):
        assert heading in chinese, heading
    assert "直通率 63.6 %（7/11）" in chinese  # SN-C3 is still running: not in the first-pass yield yet
    assert "17（不合格 6, 进行中 1, 待检查 1, 合格 9）" in chinese
    assert "激活: CONSOLE_TIMEOUT" in chinese  # step names in words, failure codes as recorded
    assert "Traceability report" not in chinese and "first-pass yield" not in chinese
    embedded = subprocess.run(["pdffonts", str(tmp_path / "report-zh_CN.pdf")], check=True, capture_output=True,
                              text=True, timeout=60).stdout
    cjk_lines = [line for line in embedded.splitlines() if "WenQuanYi" in line or "Droid" in line]
    assert cjk_lines, embedded
    assert all(line.split()[-5] == "yes" for line in cjk_lines), f"the CJK font is not embedded:\n{embedded}"

    spanish = written["es"]
    for heading in ("Informe de trazabilidad", "Filtro", "Totales", "Rendimiento", "Fallos por código",
                    "Tiempo por paso", "Unidades"):
        assert heading in spanish, heading
    assert "rendimiento a la" in spanish and "63.6 % (7 de 11)" in spanish  # the label may wrap in its column
    assert "Requiere inspección" in spanish and "activar: CONSOLE_TIMEOUT" in spanish
    assert "Traceability report" not in spanish


@needs_poppler
@needs_cjk_font
def test_station_report_export_takes_the_language(
    scenario: Database, db_url: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "zh.pdf"
    assert main(["report", "export", "--format", "pdf", "--language", "zh_CN", "--out", str(target),
                 "--db", db_url]) == 0
    assert "追溯报告" in pdf_text(target)
    capsys.readouterr()
    csv = tmp_path / "data.csv"
    assert main(["report", "export", "--format", "csv", "--language", "es", "--out", str(csv), "--db", db_url]) != 0
    assert "--language works with --format pdf only" in capsys.readouterr().err and not csv.exists()
    with pytest.raises(SystemExit):
        main(["report", "export", "--format", "pdf", "--language", "fr", "--out", str(tmp_path / "fr.pdf"),
              "--db", db_url])
    assert "invalid choice: 'fr'" in capsys.readouterr().err and not (tmp_path / "fr.pdf").exists()
