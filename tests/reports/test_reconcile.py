"""``station report reconcile``'s JSON shape and its refusal of an unknown work order."""

from __future__ import annotations

import pytest

from station.domain.errors import StoreError
from station.domain.records import AttemptResult
from station.reports.reconcile import reconcile_work_orders, reconciliation_json
from station.store import Database


def _recipe_hash(database: Database) -> str:
    return database.registry.record_recipe('[product]\ncode = "ACME-TOASTER"\n', "ACME-TOASTER").sha256


def test_the_json_shape_is_stable(database: Database) -> None:
    recipe_hash = _recipe_hash(database)
    database.registry.set_work_order_quantity("WO-J", 2, product="ACME-TOASTER")
    attempt = database.attempts.create_attempt(serial="SN-\x1b[2J1", station="st", operator="ann",
                                               recipe_hash=recipe_hash, product="ACME-TOASTER", work_order="WO-J")
    database.attempts.finish_attempt(attempt.id, AttemptResult.PASSED)
    database.registry.upsert_work_order("WO-EMPTY")
    document = reconciliation_json(reconcile_work_orders(database))
    assert document == {
        "format": "station-reconcile",
        "version": 1,
        "reconciled": False,
        "work_orders": [
            {
                "work_order": "WO-EMPTY", "product": None, "quantity": None, "reconciled": True,
                "units": {"serials_seen": 0, "passed": 0, "in_progress": 0, "not_passed": 0, "reworked_after_pass": 0},
                "credentials": {"issued": 0, "reserved": 0, "injected": 0, "voided": 0},
                "token_uses": 0, "token_uses_released": 0, "activations": 0, "passed_serials": [],
                "allocated_serials": None, "mismatches": [],
            },
            {
                "work_order": "WO-J", "product": "ACME-TOASTER", "quantity": 2, "reconciled": False,
                "units": {"serials_seen": 1, "passed": 1, "in_progress": 0, "not_passed": 0, "reworked_after_pass": 0},
                "credentials": {"issued": 0, "reserved": 0, "injected": 0, "voided": 0},
                "token_uses": 0, "token_uses_released": 0, "activations": 0, "passed_serials": ["SN-\x1b[2J1"],
                "allocated_serials": None, "mismatches": [
                    {"kind": "PASSED_WITHOUT_CREDENTIAL", "serial": "SN-\x1b[2J1", "attempt_id": attempt.id,
                     "certificate_serial": None,
                     "detail": f"unit passed in attempt {attempt.id} with no credential, not an injected one"},
                    {"kind": "PASSED_WITHOUT_TOKEN_USE", "serial": "SN-\x1b[2J1", "attempt_id": attempt.id,
                     "certificate_serial": None,
                     "detail": f"unit passed in attempt {attempt.id} without a token use it accepted"},
                ],
            },
        ],
    }  # fmt: skip
    assert [result.work_order.code for result in reconcile_work_orders(database, ["WO-J", "WO-J"])] == ["WO-J"]


def test_an_unknown_work_order_is_refused_not_reported_clean(database: Database) -> None:
    database.registry.upsert_work_order("WO-1")
    with pytest.raises(StoreError, match="no work order 'WO-2'"):
        reconcile_work_orders(database, ["WO-1", "WO-2"])
