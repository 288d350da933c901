"""The unit's console as the flow uses it, telling the observer each new transcript line.

An engineer watching a slot wants the unit's latest console line as it comes (the window shows
it per slot). The lines are taken from the console's transcript, in which secrets are already
replaced by their labels, so that what the observer is told is what the record keeps: never a
token. Front ends escape the text before showing it, as they do every text from outside.
"""

from __future__ import annotations

from collections.abc import Mapping

from station.flow.observer import ProvisioningObserver
from station.flow.ports import ConsoleReply, UnitConsole


class ObservedConsole:
    """A ``UnitConsole`` that reports what each call added to the transcript, line by line."""

    def __init__(self, console: UnitConsole, observer: ProvisioningObserver) -> None:
        self._console = console
        self._observer = observer
        self._reported = len(console.transcript)

    @property
    def transcript(self) -> str:
        return self._console.transcript

    def discard_input(self) -> None:
        try:
            self._console.discard_input()
        finally:
            self._report()

    def wait_for_banner(self, timeout: float) -> str:
        try:
            return self._console.wait_for_banner(timeout)
        finally:
            self._report()

    def command(
        self, line: str, *, timeout: float | None = None, secrets: Mapping[str, str] | None = None
    ) -> ConsoleReply:
        try:
            return self._console.command(line, timeout=timeout, secrets=secrets)
        finally:
            self._report()

    def interrupt(self) -> None:
        self._console.interrupt()

    def close(self) -> None:
        self._console.close()

    def _report(self) -> None:
        """Tell the observer the transcript's lines added since the last call (it only grows)."""
        transcript = self._console.transcript
        added, self._reported = transcript[self._reported :], len(transcript)
        for line in added.splitlines():
            if line.strip():
                self._observer.console_line(line)
