"""The recipe's operator instructions: per step a short text and an optional picture.

    [instructions.connect]
    text = "Place the unit in the fixture, close the lid."
    picture = "pictures/fixture.png"      # optional, relative to the recipe; PNG or JPEG

The slot's tile shows a step's instruction while that step runs. Like every other table of the
recipe, this one is read strictly: an unknown step, an empty or overlong text, or a picture that
is missing, too large or not a PNG/JPEG is refused at load, naming its place. The picture's bytes
are read here, once, so that the window shows the file that was checked.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Final

from station.domain.recipe import StepInstruction, StepName
from station.domain.strict_toml import StrictTable

TEXT_MAX_CHARACTERS: Final = 200
PICTURE_MAX_BYTES: Final = 4 * 1024 * 1024
_PICTURE_SIGNATURES: Final = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"))


def picture_kind(data: bytes) -> str | None:
    """"PNG" or "JPEG" by the file's signature, else None."""
    return next((kind for signature, kind in _PICTURE_SIGNATURES if data.startswith(signature)), None)


def read_instructions(top: StrictTable, base: Path) -> tuple[StepInstruction, ...]:
    """The ``[instructions.<step>]`` tables, in step order; none when the recipe has none."""
    table = top.table("instructions", [name.value for name in StepName], required=False)
    if table is None:
        return ()
    instructions = []
    for step in StepName:
        if table.has(step.value):
            instructions.append(_read_one(table.required_table(step.value, ["text", "picture"]), step, base))
    return tuple(instructions)


def _read_one(entry: StrictTable, step: StepName, base: Path) -> StepInstruction:
    text = entry.string("text").strip()
    if not text:
        raise entry.error("text", "must not be empty")
    if len(text) > TEXT_MAX_CHARACTERS:
        raise entry.error("text", f"is {len(text)} characters; at most {TEXT_MAX_CHARACTERS} fit a slot's tile")
    if any(unicodedata.category(character) in ("Cc", "Cf", "Zl", "Zp") for character in text):
        raise entry.error("text", "may not contain line breaks, control or format characters (the tile wraps it)")
    name = entry.optional_string("picture")
    if name is None:
        return StepInstruction(step, text)
    if not name.strip():
        raise entry.error("picture", "must name a file (or leave picture out)")
    path = base / name
    if not path.is_file():
        raise entry.error("picture", f"picture file {path} does not exist")
    try:
        size = path.stat().st_size
        if size > PICTURE_MAX_BYTES:
            raise entry.error("picture", f"{path.name} is {size} bytes; at most {PICTURE_MAX_BYTES} are shown")
        data = path.read_bytes()
    except OSError as error:
        raise entry.error("picture", f"cannot read {path}: {error.strerror or error}") from None
    if picture_kind(data) is None:
        raise entry.error("picture", f"{path.name} is not a PNG or JPEG picture")
    return StepInstruction(step, text, path, data)
