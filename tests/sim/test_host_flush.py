"""A hosted probe session carries out its queued writes before it lets go of the unit.

A CMSIS-DAP probe queues writes and flushes the queue at disconnect and at close, so the last
writes of a session have happened when pyOCD's ``Session.close`` returns. The simulator host
posts writes the same way (no reply awaited); its probe used to drop the connection at close
with the writes still on their way, so a reset written last could happen after the next
session had already looked at the unit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyocd.core.helpers import ConnectHelper

from station.sim import board
from station.sim.units import SimUnit, SimUnitStore

from .session_threads import LaggingResets, threaded_host

CTRL_AP = 1
CTRL_AP_RESET = 0x00
CTRL_AP_APPROTECTSTATUS = 0x0C


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    made = sim_store.create_unit()
    yield made
    made.close()


def approtect_status(unit: SimUnit) -> int:
    """CTRL-AP APPROTECTSTATUS through a fresh session, as the station's lock-confirm reads it."""
    options = {"auto_unlock": False, "target_override": "cortex_m", "allow_no_cores": True}
    session = ConnectHelper.session_with_chosen_probe(unique_id=unit.probe_id, options=options)
    assert session is not None
    with session:
        return int(session.target.dp.aps[CTRL_AP].read_reg(CTRL_AP_APPROTECTSTATUS))


def test_a_reset_written_last_has_happened_when_the_session_closes(
    sim_dir: Path, unit: SimUnit, monkeypatch: pytest.MonkeyPatch
) -> None:
    lag = LaggingResets(limit=1.0)  # the reset waits for the next status read, or a second
    lag.install(monkeypatch)
    try:
        with threaded_host(sim_dir):
            # As the station opens it: nothing is resumed on disconnect, so no call waits after the reset.
            options = {"auto_unlock": False, "resume_on_disconnect": False}
            session = ConnectHelper.session_with_chosen_probe(unique_id=unit.probe_id, options=options)
            assert session is not None
            with session:
                session.target.write_uicr(board.UICR_APPROTECT, 0x00)
                ctrl_ap = session.target.dp.aps[CTRL_AP]
                ctrl_ap.write_reg(CTRL_AP_RESET, 1)
                ctrl_ap.write_reg(CTRL_AP_RESET, 0)  # the session's last word: no read after it
            assert approtect_status(unit) == 0  # protected: the reset happened before the close returned
            assert lag.resets_held == 1  # and it was held back: the close waited for it
    finally:
        lag.release()
    assert unit.reload().protected
