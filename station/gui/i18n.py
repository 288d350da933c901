"""The operator's language: Qt Linguist translations of the application, and Qt's own.

Translations are kept as Qt Linguist sources (``resources/translations/station_<lang>.ts``)
and shipped compiled: the ``.qm`` files are committed too, so that a checkout and a packaged
build run without a build step. After changing strings::

    python -m station.gui.i18n update    # pyside6-lupdate: new strings into every .ts
    pyside6-linguist resources/translations/station_es.ts    # translate
    python -m station.gui.i18n           # pyside6-lrelease: .ts -> .qm

Every module of ``station/gui`` is a source: every view, dialog and tile. Tests check that the
``.ts`` files hold every string the code has (``pyside6-lupdate`` finds nothing new), that each
is translated with its ``{placeholders}`` intact, and that the committed ``.qm`` files are what
``pyside6-lrelease`` makes of the ``.ts`` files. The PDF report, which runs without Qt, has
its own catalogue (``station.reports.texts``) in the same languages.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from station.domain.languages import ENGLISH
from station.gui.resources import LANGUAGES, TRANSLATIONS_DIR, compiled_translation, translation_source

LOG = logging.getLogger(__name__)
LANGUAGE_PROPERTY = "stationLanguage"  # the application's property: the language installed last


def pick_language(requested: str | None) -> str:
    """``requested`` if the station has it, else the system's language if it has that, else English."""
    if requested:
        return requested
    system = QLocale.system().name()  # "zh_CN", "es_ES", ...
    for candidate in (system, system.split("_")[0]):
        if candidate in LANGUAGES:
            return candidate
    return "en"


def install_translators(application: QCoreApplication, language: str) -> list[QTranslator]:
    """Load and install the translations for ``language``; keep the result alive while in use."""
    installed: list[QTranslator] = []
    application.setProperty(LANGUAGE_PROPERTY, ENGLISH)
    if language in ("", "en", "C"):
        return installed
    qt_translations = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    qt_translator = QTranslator(application)
    if qt_translator.load(f"qtbase_{language}", qt_translations):
        application.installTranslator(qt_translator)
        installed.append(qt_translator)
    path = compiled_translation(language)
    translator = QTranslator(application)
    if translator.load(str(path)):
        application.installTranslator(translator)
        installed.append(translator)
        application.setProperty(LANGUAGE_PROPERTY, language)
    else:
        LOG.warning("no translation for %s at %s; showing English", language, path)
    return installed


def remove_translators(application: QCoreApplication, translators: list[QTranslator]) -> None:
    for translator in translators:
        application.removeTranslator(translator)
    application.setProperty(LANGUAGE_PROPERTY, ENGLISH)


def current_language() -> str:
    """The language the window shows (``en`` when no translation is installed): the PDF report's too."""
    application = QCoreApplication.instance()
    language = application.property(LANGUAGE_PROPERTY) if application is not None else None
    return language if isinstance(language, str) and language in LANGUAGES else ENGLISH


def lrelease_command() -> str | None:
    found = shutil.which("pyside6-lrelease")
    if found:
        return found
    beside = Path(sys.executable).with_name("pyside6-lrelease")
    return str(beside) if beside.exists() else None


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    raise RuntimeError(f"{name} is not installed (it comes with PySide6)")


def translation_inputs() -> list[Path]:
    """Every module of the GUI package: the sources of the ``.ts`` files."""
    return sorted(Path(__file__).resolve().parent.glob("*.py"))


def lupdate(target: Path, language: str, *, quiet: bool = False) -> None:
    """Merge the GUI's current strings into the ``.ts`` file ``target`` (its translations stay)."""
    command = [_tool("pyside6-lupdate"), *(str(path) for path in translation_inputs()), "-ts", str(target),
               "-no-obsolete", "-locations", "none", "-target-language", language]
    subprocess.run([*command, *(["-silent"] if quiet else [])], check=True)


def update_sources() -> list[Path]:
    """Merge the application's current strings into every .ts (existing translations stay)."""
    updated = []
    for language in LANGUAGES:
        if language == ENGLISH:
            continue
        target = translation_source(language)
        lupdate(target, language)
        updated.append(target)
    return updated


def compile_translations(output_dir: Path = TRANSLATIONS_DIR) -> list[Path]:
    """Compile every ``.ts`` into a ``.qm`` in ``output_dir`` with pyside6-lrelease."""
    command = lrelease_command()
    if command is None:
        raise RuntimeError("pyside6-lrelease is not installed (it comes with PySide6)")
    written = []
    for language in LANGUAGES:
        source = translation_source(language)
        if not source.exists():
            continue
        target = output_dir / compiled_translation(language).name
        subprocess.run([command, "-silent", str(source), "-qm", str(target)], check=True)
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    if argv[:1] == ["update"]:
        written = update_sources()
    else:
        written = compile_translations(Path(argv[0]) if argv else TRANSLATIONS_DIR)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
