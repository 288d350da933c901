"""What a factory CA in a PKCS#11 token adds to a unit's cycle: device certificates issued with a
file CA and with a CA whose key is in SoftHSM2, side by side (issue 18: < 20 ms per unit).

Each unit's certificate is made as the credentials step makes it (a station-generated key pair,
the certificate built and signed); the two CAs take turns, so that both see the same machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from station.domain.recipe import CredentialPlan, CredentialSettings, KeyType
from station.security.ca import init_ca
from station.security.issuer import FactoryCredentialIssuer
from station.security.pkcs11.ca import init_token_ca
from station.security.pkcs11.pin import PromptPinSource
from station.security.pkcs11.token import TokenSession
from station.security.pkcs11.uri import Pkcs11Uri

SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN = "246813579"
SETTINGS = CredentialSettings(
    plan=CredentialPlan.STATION_GENERATED, endpoint_name_template="bench-{device_id}", validity_days=365,
    key_type=KeyType.EC_P256, server_uri="coaps://dms.example.com:5684",
)  # fmt: skip


def signing_costs(units: int) -> dict[str, Any] | None:
    """Median seconds per unit certificate with each CA; None when SoftHSM2 is not installed."""
    if not SOFTHSM_MODULE.exists() or shutil.which("softhsm2-util") is None:
        return None
    work = Path(tempfile.mkdtemp(prefix="station-hsm-bench-"))
    tokens = work / "tokens"
    tokens.mkdir()
    config = work / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(config)
    try:
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "bench", "--so-pin", "so-" + PIN,
                        "--pin", PIN], check=True, capture_output=True)  # fmt: skip
        file_ca = init_ca(work / "file-ca", "bench passphrase", "Bench File CA")
        session = TokenSession.open(Pkcs11Uri(token="bench", module_path=SOFTHSM_MODULE),
                                    PromptPinSource(lambda _question: PIN), writable=True)  # fmt: skip
        try:
            token_ca = init_token_ca(work / "token-ca", session, common_name="Bench Token CA")
            issuers = {"file": FactoryCredentialIssuer(file_ca, SETTINGS),
                       "token": FactoryCredentialIssuer(token_ca, SETTINGS)}  # fmt: skip
            seconds: dict[str, list[float]] = {name: [] for name in issuers}
            for index in range(units):
                for name, issuer in issuers.items():
                    began = time.perf_counter()
                    issuer.issue_station_generated(f"BENCH-{index:05d}", f"{index:016X}")
                    seconds[name].append(time.perf_counter() - began)
        finally:
            session.close()
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous
        shutil.rmtree(work, ignore_errors=True)
    medians = {name: sorted(times)[len(times) // 2] for name, times in seconds.items()}
    return {"units": units, "file_ca_s": medians["file"], "token_ca_s": medians["token"],
            "added_s": medians["token"] - medians["file"]}  # fmt: skip
