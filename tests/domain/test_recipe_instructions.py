"""The recipe's operator instructions per step: text, an optional PNG/JPEG picture, strictly read."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.domain.errors import RecipeError
from station.domain.recipe import StepName
from station.domain.recipe_instructions import PICTURE_MAX_BYTES, TEXT_MAX_CHARACTERS, picture_kind
from station.domain.recipe_loader import load_recipe
from station.operations.recipes import describe_recipe

from .recipe_support import RecipeFactory

# The smallest valid PNG and a JPEG's start: the loader checks signatures, the window decodes.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000b49444154789c6360000200000500017a5eab3f0000000049454e44ae426082"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(64) + b"\xff\xd9"


def refused(recipes: RecipeFactory, instructions: dict[str, object]) -> str:
    """A recipe with these instructions is refused, and loading it wrote nothing."""
    document = recipes.document()
    document["instructions"] = instructions
    path = recipes.write(document)
    before = recipes.snapshot()
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    assert recipes.snapshot() == before
    return str(caught.value)


def test_instructions_load_per_step_with_their_pictures(recipes: RecipeFactory) -> None:
    recipes.add_file("fixture.png", PNG)
    (recipes.directory / "pictures").mkdir()
    recipes.add_file("pictures/lid.jpg", JPEG)
    document = recipes.document()
    document["instructions"] = {
        "identity": {"text": "Check that the green LED blinks."},
        "connect": {"text": "  Place the unit in fixture 3, close the lid.  ", "picture": "fixture.png"},
        "lock": {"text": "Keep the lid closed.", "picture": "pictures/lid.jpg"},
    }
    recipe = load_recipe(recipes.write(document))
    assert [instruction.step for instruction in recipe.instructions] == [
        StepName.CONNECT, StepName.LOCK, StepName.IDENTITY  # in step order, whatever the file's order
    ]
    connect = recipe.instruction("connect")
    assert connect is not None
    assert connect.text == "Place the unit in fixture 3, close the lid."
    assert connect.picture_path == recipes.directory / "fixture.png" and connect.picture == PNG
    lock = recipe.instruction("lock")
    assert lock is not None and lock.picture == JPEG and picture_kind(lock.picture) == "JPEG"
    identity = recipe.instruction("identity")
    assert identity is not None and identity.picture_path is None and identity.picture == b""
    assert recipe.instruction("flash") is None and recipe.instruction("lock-confirm") is None
    described = describe_recipe(recipe)
    assert "instruction connect: Place the unit in fixture 3, close the lid.  (picture fixture.png)" in described
    assert "instruction identity: Check that the green LED blinks." in described


def test_a_recipe_without_instructions_has_none(recipes: RecipeFactory) -> None:
    recipe = load_recipe(recipes.write())
    assert recipe.instructions == () and recipe.instruction("connect") is None


def test_a_missing_picture_is_refused_by_name(recipes: RecipeFactory) -> None:
    message = refused(recipes, {"connect": {"text": "Place the unit.", "picture": "fixture.png"}})
    assert "[instructions.connect] picture: picture file " in message
    assert message.endswith("fixture.png does not exist")


def test_a_picture_that_is_not_png_or_jpeg_is_refused(recipes: RecipeFactory) -> None:
    recipes.add_file("fixture.gif", b"GIF89a" + bytes(32))
    message = refused(recipes, {"flash": {"text": "Wait.", "picture": "fixture.gif"}})
    assert "[instructions.flash] picture: fixture.gif is not a PNG or JPEG picture" in message


def test_a_picture_too_large_to_show_is_refused(recipes: RecipeFactory) -> None:
    recipes.add_file("huge.png", PNG + bytes(PICTURE_MAX_BYTES))
    message = refused(recipes, {"flash": {"text": "Wait.", "picture": "huge.png"}})
    assert "[instructions.flash] picture: huge.png is " in message and f"at most {PICTURE_MAX_BYTES}" in message


def test_an_unknown_step_is_refused_naming_the_steps(recipes: RecipeFactory) -> None:
    message = refused(recipes, {"solder": {"text": "Solder the header."}})
    assert "[instructions] solder: unknown key (allowed here: connect, flash, verify" in message


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"picture": "fixture.png"}, "[instructions.connect] text: missing (required)"),
        ({"text": "   "}, "[instructions.connect] text: must not be empty"),
        ({"text": "x" * (TEXT_MAX_CHARACTERS + 1)}, f"at most {TEXT_MAX_CHARACTERS} fit a slot's tile"),
        ({"text": "Place it.\nClose the lid."}, "text: may not contain line breaks, control or format characters"),
        ({"text": "Place it.\u202eevil"}, "text: may not contain line breaks, control or format characters"),
        ({"text": 3}, "[instructions.connect] text: must be a string, not an integer"),
        ({"text": "Place it.", "picture": ""}, "[instructions.connect] picture: must name a file"),
        ({"text": "Place it.", "colour": "red"}, "[instructions.connect] colour: unknown key"),
    ],
)
def test_bad_instruction_entries_are_refused(recipes: RecipeFactory, entry: dict[str, object], expected: str) -> None:
    recipes.add_file("fixture.png", PNG)
    assert expected in refused(recipes, {"connect": entry})


def test_instructions_must_be_tables(recipes: RecipeFactory) -> None:
    assert "[instructions] connect: must be a table, not a string" in refused(recipes, {"connect": "Place it."})


def test_the_picture_shown_is_the_file_checked_at_load(recipes: RecipeFactory, tmp_path: Path) -> None:
    """Its bytes are read once: a file swapped after the check is not what the tile shows."""
    recipes.add_file("fixture.png", PNG)
    document = recipes.document()
    document["instructions"] = {"connect": {"text": "Place the unit.", "picture": "fixture.png"}}
    recipe = load_recipe(recipes.write(document))
    recipes.add_file("fixture.png", b"not a picture any more")
    instruction = recipe.instruction("connect")
    assert instruction is not None and instruction.picture == PNG


def test_the_documentation_states_the_loaders_rules() -> None:
    """docs/operator-instructions.md names every step, the limits and the messages as the code has them."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "operator-instructions.md").read_text(encoding="utf-8")
    assert all(f"`{step.value}`" in text for step in StepName)
    assert f"1 to {TEXT_MAX_CHARACTERS} characters" in text
    assert PICTURE_MAX_BYTES == 4 * 1024 * 1024 and "at most 4 MiB" in text and f"at most {PICTURE_MAX_BYTES}" in text
    for message in ("is not a PNG or JPEG picture", "does not exist", "may not contain line breaks, control or "
                    "format characters (the tile wraps it)", "must not be empty"):  # fmt: skip
        assert message in text
