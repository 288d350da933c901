"""The line database a station forwards its records to, and what it does while that is away.

``[line]`` in ``station.toml``: ``database_url`` (PostgreSQL for a line; its password never here:
``~/.pgpass`` or ``PGPASSFILE``), ``policy`` when the line does not answer (``stop``: no new
scan once it has been away ``grace_seconds``; ``continue``: the station works on what it holds
and forwards when the line is back), and how often the station forwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from station.domain.strict_toml import StrictTable, toml_quoted

POLICIES: Final = ("stop", "continue")
LINE_KEYS: Final = ("database_url", "policy", "grace_seconds", "forward_every_seconds")


@dataclass(frozen=True)
class LineSettings:
    database_url: str | None = None
    policy: str = "stop"
    grace_seconds: int = 30
    forward_every_seconds: float = 2.0

    @property
    def configured(self) -> bool:
        return self.database_url is not None


def parse_line(top: StrictTable) -> LineSettings:
    table = top.table("line", LINE_KEYS, required=False)
    if table is None:
        return LineSettings()
    defaults = LineSettings()
    url = (table.optional_string("database_url") or "").strip() or None
    if url is not None:
        parsed = urlsplit(url)
        if not parsed.scheme.startswith(("postgresql", "sqlite")):
            raise table.error("database_url", "must be a PostgreSQL (or, for one station, SQLite) database URL")
        if parsed.password:
            raise table.error("database_url", "must not hold a password: put it in ~/.pgpass or PGPASSFILE")
    policy = (table.optional_string("policy") or defaults.policy).strip()
    if policy not in POLICIES:
        raise table.error("policy", f"must be one of {', '.join(POLICIES)}, not {policy!r}")
    every = table.data.get("forward_every_seconds", defaults.forward_every_seconds)
    if isinstance(every, bool) or not isinstance(every, int | float) or not 0.1 <= every <= 3600:
        raise table.error("forward_every_seconds", "must be a number from 0.1 to 3600")
    return LineSettings(
        database_url=url, policy=policy,
        grace_seconds=table.integer("grace_seconds", required=False, default=defaults.grace_seconds, minimum=0,
                                    maximum=24 * 3600),
        forward_every_seconds=float(every),
    )  # fmt: skip


def render_line(line: LineSettings) -> list[str]:
    if line == LineSettings():
        return []
    lines = ["", "[line]  # the line database this station forwards its records to"]
    if line.database_url is not None:
        lines.append(f"database_url = {toml_quoted(line.database_url)}")
    lines += [f"policy = {toml_quoted(line.policy)}", f"grace_seconds = {line.grace_seconds}",
              f"forward_every_seconds = {line.forward_every_seconds!r}"]  # fmt: skip
    return lines
