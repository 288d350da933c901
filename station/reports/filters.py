"""Report filters as people read them and as manifests record them.

The store keeps every time in UTC; people read local time. A filter is shown with both (the
local time first), and recorded in a manifest as ISO 8601 UTC so that anyone can re-run the
same query later, whatever their time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from station.domain.records import AttemptFilter, AttemptResult
from station.reports.errors import ReportError
from station.reports.texts import ENGLISH_TEXTS, ReportTexts

LOCAL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def local_time(moment: datetime | None, zone: tzinfo | None = None) -> str:
    """``2026-03-01 14:05:09 +01:00`` in ``zone`` (default: this computer's zone); '' for None."""
    if moment is None:
        return ""
    shown = moment.astimezone(zone)
    offset = shown.strftime("%z")
    return f"{shown.strftime(LOCAL_TIME_FORMAT)} {offset[:3]}:{offset[3:]}" if offset else shown.strftime(
        LOCAL_TIME_FORMAT
    )


def utc_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(LOCAL_TIME_FORMAT) + " UTC"


def human_duration(seconds: float, texts: ReportTexts = ENGLISH_TEXTS) -> str:
    """``42.0 s``, ``14.5 min`` or ``3.25 h`` (in the words of ``texts``)."""
    if seconds < 120:
        return texts("duration.seconds", value=f"{seconds:.1f}")
    if seconds < 2 * 3600:
        return texts("duration.minutes", value=f"{seconds / 60:.1f}")
    return texts("duration.hours", value=f"{seconds / 3600:.2f}")


def filter_to_json(wanted: AttemptFilter) -> dict[str, Any]:
    """The fields that are set, JSON-ready: times as ISO 8601 UTC, serials as a list."""
    document: dict[str, Any] = {}
    for name in ("work_order", "product", "recipe_hash", "station", "operator"):
        value = getattr(wanted, name)
        if value is not None:
            document[name] = value
    if wanted.since is not None:
        document["since"] = wanted.since.astimezone(UTC).isoformat()
    if wanted.until is not None:
        document["until"] = wanted.until.astimezone(UTC).isoformat()
    if wanted.result is not None:
        document["result"] = wanted.result.value
    if wanted.serials is not None:
        document["serials"] = list(wanted.serials)
    return document


def filter_from_json(document: dict[str, Any]) -> AttemptFilter:
    """The inverse of :func:`filter_to_json`; ReportError on anything it did not write."""
    known = {"work_order", "product", "recipe_hash", "station", "operator", "since", "until", "result", "serials"}
    unknown = set(document) - known
    if unknown:
        raise ReportError(f"unknown filter fields: {', '.join(sorted(unknown))}")
    try:
        return AttemptFilter(
            work_order=document.get("work_order"),
            product=document.get("product"),
            recipe_hash=document.get("recipe_hash"),
            station=document.get("station"),
            operator=document.get("operator"),
            since=_moment(document.get("since")),
            until=_moment(document.get("until")),
            result=None if document.get("result") is None else AttemptResult(document["result"]),
            serials=None if document.get("serials") is None else tuple(str(s) for s in document["serials"]),
        )
    except (TypeError, ValueError) as error:
        raise ReportError(f"not a report filter: {error}") from None


def describe_filter(
    wanted: AttemptFilter, zone: tzinfo | None = None, texts: ReportTexts = ENGLISH_TEXTS
) -> list[tuple[str, str]]:
    """(label, value) lines for a cover page or a terminal; one line "all attempts" when empty."""
    lines: list[tuple[str, str]] = []
    for key, value in (
        ("filter.work_order", wanted.work_order),
        ("filter.product", wanted.product),
        ("filter.recipe", wanted.recipe_hash),
        ("filter.station", wanted.station),
        ("filter.operator", wanted.operator),
    ):
        if value is not None:
            lines.append((texts(key), value))
    if wanted.since is not None:
        lines.append((texts("filter.since"), f"{local_time(wanted.since, zone)} ({utc_time(wanted.since)})"))
    if wanted.until is not None:
        lines.append((texts("filter.until"), f"{local_time(wanted.until, zone)} ({utc_time(wanted.until)})"))
    if wanted.result is not None:
        lines.append((texts("filter.result"), texts.result(wanted.result.value)))
    if wanted.serials is not None:
        lines.append((texts("filter.serials"), texts.more(", ".join(wanted.serials[:20]),
                                                          max(0, len(wanted.serials) - 20))))
    return lines or [(texts("filter.label"), texts("filter.all"))]


def _moment(text: Any) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(str(text))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
