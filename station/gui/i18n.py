"""The operator's language: Qt Linguist translations of the application, and Qt's own.

Translations are kept as Qt Linguist sources (``resources/translations/station_<lang>.ts``)
and shipped compiled: the ``.qm`` files are committed too, so that a checkout and a packaged
build run without a build step. After changing strings::

    python -m station.gui.i18n update    # pyside6-lupdate: new strings into every .ts
    pyside6-linguist resources/translations/station_es.ts    # translate
    python -m station.gui.i18n           # pyside6-lrelease: .ts -> .qm

A test checks that every operator-view string is translated and that the committed ``.qm``
files are what ``pyside6-lrelease`` makes of the ``.ts`` files. The reports view keeps its
own strings (its own context) and is not part of these files.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from station.gui.resources import LANGUAGES, TRANSLATIONS_DIR, compiled_translation, translation_source

LOG = logging.getLogger(__name__)
TRANSLATION_EXCLUDED = frozenset({"reports_view.py"})  # the reports view translates itself


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
    else:
        LOG.warning("no translation for %s at %s; showing English", language, path)
    return installed


def remove_translators(application: QCoreApplication, translators: list[QTranslator]) -> None:
    for translator in translators:
        application.removeTranslator(translator)


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


def update_sources() -> list[Path]:
    """Merge the application's current strings into every .ts (existing translations stay)."""
    package = Path(__file__).resolve().parent
    sources = sorted(str(path) for path in package.glob("*.py") if path.name not in TRANSLATION_EXCLUDED)
    updated = []
    for language in LANGUAGES:
        if language == "en":
            continue
        target = translation_source(language)
        subprocess.run(
            [_tool("pyside6-lupdate"), *sources, "-ts", str(target), "-no-obsolete", "-locations", "none",
             "-target-language", language],
            check=True,
        )
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
