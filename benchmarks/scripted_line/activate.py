"""What a user's line script would do to activate a unit: a few lines of pyserial.

python activate.py PORT TOKEN
"""

from __future__ import annotations

import sys
import time

import serial


def read_frame(port: serial.Serial) -> tuple[str, str]:
    header = port.read(9)
    if len(header) != 9:
        raise SystemExit("no reply")
    return header[:1].decode(), port.read(int(header[3:8])).decode()


port_name, token = sys.argv[1], sys.argv[2]
with serial.Serial(port_name, 115200, timeout=5) as port:
    time.sleep(0.05)
    port.reset_input_buffer()
    port.write(b"reboot\r\n")
    while True:  # the reply, then the banner
        kind, body = read_frame(port)
        if kind == "L" and "Ready" in body:
            break
    port.write(b"ver\r\n")
    read_frame(port)
    port.write(f"dms_activate {token}\r\n".encode())
    kind, body = read_frame(port)
    if "Activated" not in body:
        raise SystemExit(f"activation failed: {body.strip()}")
