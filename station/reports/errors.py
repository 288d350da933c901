"""Errors of the reports layer: each a StationError, so the CLI and GUI show them plainly."""

from __future__ import annotations

from station.domain.errors import StationError


class ReportError(StationError):
    """A report could not be made or read (bad filter, unwritable file, unreadable manifest)."""

    code = "REPORT"


class ExportCancelledError(ReportError):
    """The person who started an export stopped it; the partial file was removed."""

    code = "CANCELLED"
