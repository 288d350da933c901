"""What a user's line script would do for credentials: key, certificate, bundle file.

python make_credentials.py CA_DIR DEVICE_ID OUT.bin     (CA passphrase: STATION_CA_PASSPHRASE
                                                          or the demo's)
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from station.domain.formats import CredentialBundle

ca_dir, device_id, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
passphrase = os.environ.get("STATION_CA_PASSPHRASE", "demo-ca-passphrase").encode()
ca_certificate = x509.load_pem_x509_certificate((ca_dir / "ca-cert.pem").read_bytes())
ca_key = serialization.load_pem_private_key((ca_dir / "ca-key.pem").read_bytes(), password=passphrase)
key = ec.generate_private_key(ec.SECP256R1())
endpoint = f"acme-toaster-{device_id}"
now = dt.datetime.now(dt.UTC)
certificate = (
    x509.CertificateBuilder()
    .subject_name(
        x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, endpoint), x509.NameAttribute(NameOID.SERIAL_NUMBER, device_id)]
        )
    )
    .issuer_name(ca_certificate.subject)
    .public_key(key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(now - dt.timedelta(minutes=5))
    .not_valid_after(now + dt.timedelta(days=3650))
    .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
)
bundle = CredentialBundle(
    device_certificate=certificate.public_bytes(serialization.Encoding.DER),
    ca_chain=(ca_certificate.public_bytes(serialization.Encoding.DER),),
    endpoint_name=endpoint,
    server_uri="coaps://dms.sim.invalid:5684",
    device_private_key=key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ),
)
out.write_bytes(bundle.encode())
