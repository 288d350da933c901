"""Every view speaks every language: the Qt Linguist files hold every string of ``station/gui``,
each translated with its placeholders intact, compiled, and shown at run time.

The first test runs ``pyside6-lupdate`` over the GUI package into a copy of each committed
``.ts`` file: a string added to any view, dialog or tile without being put in the files (or
one the code no longer has) fails it, with the command that fixes it.
"""

from __future__ import annotations

import ast
import re
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from station.domain.languages import ENGLISH
from station.gui.i18n import (
    compile_translations,
    current_language,
    install_translators,
    lrelease_command,
    lupdate,
    remove_translators,
    translation_inputs,
)
from station.gui.resources import LANGUAGES, translation_source
from station.store import open_database

TRANSLATED = [language for language in LANGUAGES if language != ENGLISH]
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
UPDATE = "run `python -m station.gui.i18n update`, translate the new strings, then `python -m station.gui.i18n`"


def messages(path: Path) -> dict[tuple[str, str], ElementTree.Element]:
    """(context, source) -> the message's <translation> element."""
    found = {}
    for context in ElementTree.parse(path).getroot().iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            translation = message.find("translation")
            assert translation is not None, f"{path.name}: {name}: a message without a translation element"
            found[(name, message.findtext("source") or "")] = translation
    return found


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_ts_file_holds_every_string_of_every_view(language: str, tmp_path: Path) -> None:
    committed = translation_source(language)
    fresh = tmp_path / committed.name
    shutil.copyfile(committed, fresh)
    lupdate(fresh, language, quiet=True)
    have, want = set(messages(committed)), set(messages(fresh))
    missing, gone = sorted(want - have), sorted(have - want)
    assert not missing, f"strings of the GUI missing from {committed.name}: {missing}; {UPDATE}"
    assert not gone, f"strings in {committed.name} the GUI no longer has: {gone}; {UPDATE}"
    assert {context for context, _ in want} >= {"ReportsView", "EngineerView", "SupervisorView", "HistoryView",
                                                 "OperatorView", "MainWindow", "SlotTile", "SignInDialog"}


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_string_is_translated_with_its_placeholders(language: str) -> None:
    problems = []
    for (context, source), translation in messages(translation_source(language)).items():
        text = translation.text or ""
        where = f"{context}: {source!r}"
        if translation.get("type") in ("unfinished", "vanished", "obsolete") or not text.strip():
            problems.append(f"{where} is not translated")
        elif sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(source)):
            problems.append(f"{where}: the placeholders of {text!r} differ")
    assert not problems, f"{language}: " + "; ".join(problems)


def test_the_committed_qm_files_are_compiled_from_the_ts_files(tmp_path: Path) -> None:
    if lrelease_command() is None:
        pytest.skip("pyside6-lrelease is not installed")
    for compiled in compile_translations(tmp_path):
        committed = translation_source(compiled.stem.split("_", 1)[1]).with_suffix(".qm")
        assert committed.read_bytes() == compiled.read_bytes(), (
            f"{committed.name} is stale: run `python -m station.gui.i18n` and commit it"
        )


def test_no_base_class_translates_with_self_tr() -> None:
    """PySide6 looks ``self.tr`` up under the object's own class, so a base class's strings
    (filed under the base class by lupdate) would never be translated in its subclasses."""
    classes: dict[str, tuple[str, bool, list[str]]] = {}
    for path in translation_inputs():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                uses_tr = any(isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                              and call.func.attr == "tr" for call in ast.walk(node))
                bases = [base.id for base in node.bases if isinstance(base, ast.Name)]
                classes[node.name] = (path.name, uses_tr, bases)
    wrong = [f"{base} ({classes[base][0]}), base of {name}" for name, (_, _, bases) in classes.items()
             for base in bases if base in classes and classes[base][1]]
    assert not wrong, f"self.tr in a base class: use QCoreApplication.translate with a context: {wrong}"


@pytest.mark.parametrize(("language", "title", "pareto"), [
    ("zh_CN", "筛选", "失败帕累托图"),
    ("es", "Filtro", "Pareto de fallos"),
])
def test_the_reports_view_shows_its_words_in_the_chosen_language(
    qtbot: QtBot, tmp_path: Path, language: str, title: str, pareto: str
) -> None:
    from station.gui.reports_view import ReportsView
    from station.security.station_key import load_or_create_station_key

    application = QApplication.instance()
    assert isinstance(application, QApplication)
    database = open_database(f"sqlite:///{tmp_path / 'station.db'}")
    database.upgrade()
    translators = install_translators(application, language)
    try:
        assert current_language() == language
        view = ReportsView(database, station_key=load_or_create_station_key(tmp_path / "key.pem"),
                           station_name="line1", exports_dir=tmp_path / "exports")
        qtbot.addWidget(view)
        assert view.filter_box.title() == title
        assert view.charts.tabText(0) == pareto
        assert view.export_buttons[next(iter(view.export_buttons))].text() not in ("Export CSV…", "")
        view.shutdown()
    finally:
        remove_translators(application, translators)
        database.dispose()
    assert current_language() == ENGLISH


def test_station_demo_opens_the_window_in_the_language_asked_for(
    tmp_path: Path, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``station demo --language zh_CN``: the training window in Chinese; a language the station
    does not have is refused by the command line, before anything starts."""
    from station.app import CompositionRoot
    from station.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--language", "fr"])
    monkeypatch.setenv("STATION_SIM_DIR", str(tmp_path / "demo" / "sim"))
    arguments = build_parser().parse_args(["demo", "--units", "1", "--demo-dir", str(tmp_path / "demo"),
                                           "--language", "zh_CN"])
    seen: dict[str, object] = {}

    def event_loop(_application: QApplication) -> int:  # the real loop would end the test's application
        qtbot.wait(200)
        seen["language"] = current_language()
        seen["titles"] = [widget.windowTitle() for widget in QApplication.topLevelWidgets() if widget.isVisible()]
        return 0

    monkeypatch.setattr(QApplication, "exec", event_loop)
    assert CompositionRoot().run_demo_gui(arguments) == 0
    assert seen["language"] == "zh_CN"
    titles = seen["titles"]
    assert isinstance(titles, list) and any("生产配置工作站" in title for title in titles), titles
    assert current_language() == ENGLISH  # closing the window took its translations away
