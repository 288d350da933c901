"""The PDF report's fonts: TrueType files from the system, embedded (subset) in every report.

reportlab draws each string in one font, with no fallback per character, so the report picks
one family that covers its language: DejaVu for English and Spanish (Latin, Greek and Cyrillic
names too; the PDF base fonts, Latin-1 only, when DejaVu is missing), and for Chinese a font
with the CJK glyphs: WenQuanYi Micro Hei (Debian's ``fonts-wqy-microhei``, which
``scripts/test`` installs and ``packaging/README.md`` lists), or WenQuanYi Zen Hei or Droid
Sans Fallback when the system has those instead. Noto CJK does not do: its outlines are
PostScript (CFF), which reportlab cannot embed. A Chinese report without such a font is
refused with what to install, never written with empty boxes.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from station.domain.languages import ENGLISH
from station.reports.errors import ReportError

LOG = logging.getLogger(__name__)

CJK_LANGUAGES: Final = frozenset({"zh_CN"})
CJK_FONT_PACKAGE: Final = "fonts-wqy-microhei"

_LATIN_FILES: Final = {
    "StationSans": "DejaVuSans.ttf",
    "StationSans-Bold": "DejaVuSans-Bold.ttf",
    "StationMono": "DejaVuSansMono.ttf",
}
_LATIN_DIRS: Final = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))


@dataclass(frozen=True)
class CjkFont:
    """A TrueType file (or collection) with CJK glyphs: the sub-fonts for text and for codes."""

    path: Path
    regular_index: int = 0
    mono_index: int | None = None  # None: the collection has no monospaced face; codes use the regular one


# In order of preference; every one has TrueType outlines (reportlab embeds no CFF).
CJK_FONTS: tuple[CjkFont, ...] = (
    CjkFont(Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), 0, 1),
    CjkFont(Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0, 1),
    CjkFont(Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")),
)


@dataclass(frozen=True)
class Fonts:
    regular: str
    bold: str
    mono: str


def report_fonts(language: str = ENGLISH) -> Fonts:
    """The fonts for a report in ``language`` (registered with reportlab once per process)."""
    if language in CJK_LANGUAGES:
        return _cjk_fonts(CJK_FONTS)
    return _latin_fonts()


@functools.cache
def _latin_fonts() -> Fonts:
    """DejaVu when the system has it (wider character coverage), else the PDF base fonts."""
    for directory in _LATIN_DIRS:
        paths = {name: directory / file for name, file in _LATIN_FILES.items()}
        if all(path.is_file() for path in paths.values()):
            try:
                for name, path in paths.items():
                    pdfmetrics.registerFont(TTFont(name, str(path)))
            except Exception:  # a damaged font file: fall back rather than fail the report
                LOG.warning("reports: cannot load DejaVu from %s; using the PDF base fonts", directory)
                break
            return Fonts("StationSans", "StationSans-Bold", "StationMono")
    return Fonts("Helvetica", "Helvetica-Bold", "Courier")


@functools.cache
def _cjk_fonts(candidates: tuple[CjkFont, ...]) -> Fonts:
    """The first usable CJK font of ``candidates``; ReportError naming the package when none is."""
    for index, candidate in enumerate(candidates):
        if not candidate.path.is_file():
            continue
        regular, mono = f"StationCJK{index}", f"StationCJK{index}-Mono"
        try:
            pdfmetrics.registerFont(TTFont(regular, str(candidate.path), subfontIndex=candidate.regular_index))
            if candidate.mono_index is None:
                mono = regular
            else:
                pdfmetrics.registerFont(TTFont(mono, str(candidate.path), subfontIndex=candidate.mono_index))
        except Exception as error:  # damaged or not TrueType: try the next one
            LOG.warning("reports: cannot use the font %s: %s", candidate.path, error)
            continue
        return Fonts(regular, regular, mono)  # these families have no bold face
    looked = ", ".join(str(candidate.path) for candidate in candidates)
    raise ReportError(
        f"no font with Chinese characters for the PDF report (looked for {looked}); install one, "
        f"on Debian or Ubuntu: apt-get install {CJK_FONT_PACKAGE}"
    )
