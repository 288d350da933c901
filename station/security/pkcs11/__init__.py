"""Keys held in a hardware token through PKCS#11 (python-pkcs11; SoftHSM2 in the tests).

- ``uri``: RFC 7512 URIs that name a token, a key and the module;
- ``pin``: where the token's PIN comes from (a prompt, a private file, a systemd credential);
- ``token``: a logged-in session on one token, every call serialised;
- ``keys``: signing keys generated inside the token (EC P-256, Ed25519) and signing with them;
- ``ca``: the factory CA whose key never leaves the token;
- ``wrap``: the AES key that wraps the vault's data key.
"""
