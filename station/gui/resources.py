"""Where the application's icons, sounds, style sheet and translations are.

They live in ``resources/`` at the top of the repository (and of a PyInstaller bundle, which
copies that folder whole), beside the demo recipe, not inside the Python package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from station.domain.languages import LANGUAGES as LANGUAGES  # the window's languages are the station's

RESOURCES_DIR: Final = Path(__file__).resolve().parents[2] / "resources"
ICONS_DIR: Final = RESOURCES_DIR / "icons"
SOUNDS_DIR: Final = RESOURCES_DIR / "sounds"
STYLE_SHEET: Final = RESOURCES_DIR / "style" / "station.qss"
TRANSLATIONS_DIR: Final = RESOURCES_DIR / "translations"
TRANSLATION_BASENAME: Final = "station"


def icon_path(name: str) -> Path:
    return ICONS_DIR / f"{name}.svg"


def sound_path(name: str) -> Path:
    return SOUNDS_DIR / f"{name}.wav"


def translation_source(language: str) -> Path:
    return TRANSLATIONS_DIR / f"{TRANSLATION_BASENAME}_{language}.ts"


def compiled_translation(language: str) -> Path:
    return TRANSLATIONS_DIR / f"{TRANSLATION_BASENAME}_{language}.qm"


def style_sheet_text() -> str:
    """The style sheet, its ``@ICONS@`` made the icons folder (style sheets want absolute paths)."""
    try:
        text = STYLE_SHEET.read_text(encoding="utf-8")
    except OSError:
        return ""
    return text.replace("@ICONS@", ICONS_DIR.as_posix())
