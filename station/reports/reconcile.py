"""``station report reconcile``: per work order, what it made against what it spent.

The facts come from the store (``RegistryRepository.work_order_ledger``), the judgement from
``station.domain.reconciliation``. ``reconciliation_json`` is the machine-readable form; its
shape is stable (fields are only ever added)::

    {
      "format": "station-reconcile", "version": 1,
      "reconciled": false,                  # every work order listed reconciles
      "work_orders": [{
        "work_order": "WO-1001", "product": "ACME-TOASTER", "quantity": 10,   # quantity: null = no cap
        "reconciled": false,
        "units": {"serials_seen": 12, "passed": 10, "in_progress": 0, "not_passed": 2,
                  "reworked_after_pass": 0},
        "credentials": {"issued": 13, "reserved": 0, "injected": 10, "voided": 3},
        "token_uses": 11, "token_uses_released": 1, "activations": 10,   # uses: all but the released
        "passed_serials": ["TST-000001", "..."],                               # sorted
        "allocated_serials": {"range": 500, "leased": 50, "free": 38, "allocated": 0, "bound": 1,
                              "used": 10, "returned": 1, "scrapped": 0, "adds_up": true, ...},  # null: no rule
        "mismatches": [{"kind": "TOKEN_USE_WITHOUT_ACTIVATION", "serial": "TST-000007",
                        "attempt_id": 9, "certificate_serial": null, "detail": "..."}]
      }]
    }

``kind`` is one of ``MismatchKind``; ``serial`` and ``attempt_id`` are null for a mismatch of
the whole work order (``OVER_QUANTITY``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from station.domain.errors import StoreError
from station.domain.reconciliation import Mismatch, Reconciliation, reconcile
from station.store import Database

JSON_FORMAT = "station-reconcile"
JSON_VERSION = 1


def reconcile_work_orders(database: Database, codes: Sequence[str] = ()) -> list[Reconciliation]:
    """The reconciliation of each work order named (every one on record when none is named).

    An unknown work order is refused (StoreError) before anything is judged: a typo must not
    look like a clean report.
    """
    wanted = list(dict.fromkeys(codes)) or database.registry.work_order_codes()
    ledgers = []
    for code in wanted:
        ledger = database.registry.work_order_ledger(code)
        if ledger is None:
            raise StoreError(f"no work order '{code}' in {database.url}")  # printed escaped
        ledgers.append(ledger)
    return [reconcile(ledger) for ledger in ledgers]


def reconciliation_json(results: Sequence[Reconciliation]) -> dict[str, Any]:
    """The stable JSON form (see the module's docstring)."""
    return {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "reconciled": all(result.reconciled for result in results),
        "work_orders": [_work_order_json(result) for result in results],
    }


def _work_order_json(result: Reconciliation) -> dict[str, Any]:
    order = result.work_order
    return {
        "work_order": order.code,
        "product": order.product,
        "quantity": order.quantity,
        "reconciled": result.reconciled,
        "units": {
            "serials_seen": result.serials_seen,
            "passed": result.units_passed,
            "in_progress": result.units_in_progress,
            "not_passed": result.units_not_passed,
            "reworked_after_pass": result.reworked_after_pass,
        },
        "credentials": {
            "issued": result.credentials_issued,
            "reserved": result.credentials_reserved,
            "injected": result.credentials_injected,
            "voided": result.credentials_voided,
        },
        "token_uses": result.token_uses,
        "token_uses_released": result.token_uses_released,
        "activations": result.activations,
        "passed_serials": list(result.passed_serials),
        "allocated_serials": None if result.serials is None else result.serials.to_document(),
        "mismatches": [_mismatch_json(mismatch) for mismatch in result.mismatches],
    }


def _mismatch_json(mismatch: Mismatch) -> dict[str, Any]:
    return {
        "kind": mismatch.kind.value,
        "serial": mismatch.serial,
        "attempt_id": mismatch.attempt_id,
        "certificate_serial": mismatch.certificate_serial,
        "detail": mismatch.detail,
    }
