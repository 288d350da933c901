"""Helpers for the security tests: credential settings as a recipe would give them."""

from __future__ import annotations

from typing import Any

from station.domain.recipe import CredentialPlan, CredentialSettings, KeyType

CA_PASSPHRASE = "correct horse battery staple"


def credential_settings(plan: CredentialPlan, **changes: Any) -> CredentialSettings:
    values: dict[str, Any] = {
        "plan": plan,
        "endpoint_name_template": "acme-toaster-{device_id}",
        "validity_days": 365,
        "key_type": KeyType.EC_P256,
        "server_uri": "coaps://dms.example.com:5684",
    }
    values.update(changes)
    return CredentialSettings(**values)
