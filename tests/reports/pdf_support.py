"""Reading a PDF the way a person would: rendered pages (pdftoppm) and extractable text (pdftotext)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
    reason="poppler-utils (pdftoppm, pdftotext) is not installed; scripts/test installs it",
)


def render_pages(pdf: Path, out_dir: Path, *, resolution: int = 40) -> list[Path]:
    """Every page as a PNG; fails the test if poppler cannot read the file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", str(resolution), "-png", str(pdf), str(out_dir / "page")],
                   check=True, capture_output=True, timeout=120)
    pages = sorted(out_dir.glob("page-*.png"))
    for page in pages:
        assert page.read_bytes().startswith(b"\x89PNG") and page.stat().st_size > 1000
    return pages


def pdf_text(pdf: Path) -> str:
    done = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, timeout=120)
    return done.stdout.decode("utf-8")


def pdf_page_count(pdf: Path) -> int:
    """Pages as pdftotext sees them (form feeds between pages)."""
    return pdf_text(pdf).count("\f")
