"""The languages the station speaks, one list for the window, the PDF report and the CLI's options.

The window's words are Qt Linguist translations (``resources/translations``); the PDF report's
are a catalogue of its own (``station.reports.texts``), since the reports layer runs without
Qt. Each has a test that every language in this list has every string.
"""

from __future__ import annotations

from typing import Final

ENGLISH: Final = "en"
LANGUAGES: Final = (ENGLISH, "zh_CN", "es")  # English first: the source language
