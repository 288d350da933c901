"""Writing recipes for tests: small images in BIN, HEX and ELF, and a tiny TOML writer.

The base recipe mirrors the simulated board's layout with images a few hundred bytes long,
so every test can break one thing and see the loader name it.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

from intelhex import IntelHex

from station.sim.firmware import ElfSegment, elf32_arm_image

BOOTLOADER = bytes(range(256)) * 2  # 512 bytes at 0x0
APP_HEADER = b"SAPH" + bytes(60)  # 64 bytes at 0x10000
APPLICATION = hashlib.shake_256(b"application").digest(1024)  # 1 KiB at 0x11000


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def base_document() -> dict[str, Any]:
    return {
        "schema": 1,
        "product": "ACME-TOASTER",
        "description": "test toaster",
        "target": "nrf52840",
        "firmware_version": "1.4.2",
        "flash": {"start": 0, "size": 0x100000, "page_size": 0x1000},
        "regions": {
            "bootloader": {"role": "bootloader", "address": 0x0, "size": 0x10000},
            "app_header": {"role": "app_header", "address": 0x10000, "size": 0x1000},
            "application": {"role": "application", "address": 0x11000, "size": 0xED000},
            "credentials": {"role": "credentials", "address": 0xFE000, "size": 0x1000},
            "key_store": {"role": "key_store", "address": 0xFF000, "size": 0x1000},
        },
        "images": {
            "bootloader": {"file": "bootloader.bin", "address": 0x0, "sha256": sha256(BOOTLOADER)},
            "app_header": {"file": "app-header.bin", "address": 0x10000, "sha256": sha256(APP_HEADER)},
            "application": {"file": "application.bin", "address": 0x11000, "sha256": sha256(APPLICATION)},
        },
        "serial": {"kind": "regex", "pattern": "^TST-[0-9]{6}$"},
        "credentials": {
            "plan": "station-generated",
            "endpoint_name": "acme-toaster-{device_id}",
            "validity_days": 3650,
            "key_type": "ec-p256",
            "server_uri": "coaps://dms.example.com:5684",
        },
        "lock": {"method": "nrf52-approtect"},
        "console": {
            "baud_rate": 115200,
            "line_ending": "crlf",
            "reply_format": "gecko-machine",
            "banner": "^Ready$",
            "success": "^R0",
            "failure": "^R[1-9]",
            "command_timeout_seconds": 5.0,
            "boot_timeout_seconds": 10,
            "commands": {
                "version": "ver",
                "uuid": "get system.uuid",
                "endpoint": "get dms.endpoint",
                "certificate_fingerprint": "get dms.cert_fingerprint",
                "csr": "csr_generate {common_name}",
                "activate": "dms_activate {token}",
                "reboot": "reboot",
            },
        },
        "activation": {"product": "ACME-TOASTER", "token_pool": "ACME-TOASTER"},
        "steps": {
            "connect": {"timeout_seconds": 10, "retries": 2},
            "flash": {"timeout_seconds": 90, "retries": 1},
            "verify": {"timeout_seconds": 60, "retries": 1},
            "credentials": {"timeout_seconds": 30, "retries": 0},
            "lock": {"timeout_seconds": 30, "retries": 1},
            "lock-confirm": {"timeout_seconds": 20, "retries": 1},
            "activate": {"timeout_seconds": 60, "retries": 1},
            "identity": {"timeout_seconds": 30, "retries": 1},
            "rework": {"timeout_seconds": 60, "retries": 0},
        },
    }


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return hex(value) if value > 9 else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(document: dict[str, Any], prefix: tuple[str, ...] = ()) -> str:
    """Scalars first, then one [table] per nested dict (enough for recipes)."""
    lines = []
    tables = []
    for key, value in document.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    text = "\n".join(lines) + ("\n" if lines else "")
    for key, value in tables:
        path = (*prefix, key)
        text += "\n[" + ".".join(_key(part) for part in path) + "]\n" + to_toml(value, path)
    return text


def hex_file(segments: list[tuple[int, bytes]]) -> bytes:
    image = IntelHex()
    for address, data in segments:
        image.frombytes(data, offset=address)
    text = io.StringIO()
    image.write_hex_file(text, write_start_addr=False)
    return text.getvalue().encode("ascii")


def elf_file(segments: list[tuple[int, bytes]]) -> bytes:
    return elf32_arm_image(
        [ElfSegment(f".s{index}", address, data, executable=False) for index, (address, data) in enumerate(segments)],
        entry=segments[0][0],
    )


class RecipeFactory:
    """A directory with the test images; ``write`` puts a recipe next to them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "bootloader.bin").write_bytes(BOOTLOADER)
        (directory / "app-header.bin").write_bytes(APP_HEADER)
        (directory / "application.bin").write_bytes(APPLICATION)

    def document(self) -> dict[str, Any]:
        return copy.deepcopy(base_document())

    def write(self, document: dict[str, Any] | None = None, *, text: str | None = None) -> Path:
        path = self.directory / "recipe.toml"
        path.write_text(text if text is not None else to_toml(document or self.document()), encoding="utf-8")
        return path

    def add_file(self, name: str, data: bytes) -> Path:
        path = self.directory / name
        path.write_bytes(data)
        return path

    def snapshot(self) -> dict[str, tuple[bytes, int]]:
        """Every file under the directory with its bytes and modification time."""
        return {
            str(path.relative_to(self.directory)): (path.read_bytes(), path.stat().st_mtime_ns)
            for path in sorted(self.directory.rglob("*"))
            if path.is_file()
        }
