"""The demo recipes for simulated units, one per chip family, rendered next to the generated demo firmware.

A recipe must pin its images' hashes, and the demo images are generated, not committed; so
each family's recipe is rendered from its template with the hashes of the images that
:func:`station.sim.firmware.build_demo_firmware` wrote for that family:

* nRF52840, the ACME toaster (``nrf52-approtect``): ``resources/demo/recipe.toml.in``;
* STM32F429xI, the ACME kettle (``stm32-rdp1``): ``resources/demo/stm32f429xi/recipe.toml.in``;
* Kinetis K64F, the ACME fridge (``kinetis-fsec``, parts that ship secure):
  ``resources/demo/k64f/recipe.toml.in``.

The ``recipe.toml`` beside each template is its rendering for the default demo firmware (a test
keeps them current; ``python -m station.sim.demo_recipe`` regenerates them).
"""

from __future__ import annotations

import os
import string
from pathlib import Path
from typing import Final

from station.domain.errors import SimulationError
from station.domain.firmware_images import image_content_sha256, read_image
from station.domain.recipe import (
    CredentialPlan,
    ImageFormat,
    Recipe,
)
from station.domain.recipe_loader import load_recipe
from station.sim.chips import DEFAULT_TARGET, K64F, NRF52840, STM32F429XI
from station.sim.firmware import (
    APP_HEADER_FILE,
    APPLICATION_FILE,
    BOOTLOADER_FILE,
    ELF_FILE,
    HEX_FILE,
    DemoFirmware,
    build_demo_firmware,
)

RESOURCES_DIR: Final = Path(__file__).resolve().parents[2] / "resources"
# Each family's template and its committed rendering (the nRF52840's first, where it always was).
DEMO_RECIPE_TEMPLATES: Final = {
    NRF52840: RESOURCES_DIR / "demo" / "recipe.toml.in",
    STM32F429XI: RESOURCES_DIR / "demo" / STM32F429XI / "recipe.toml.in",
    K64F: RESOURCES_DIR / "demo" / K64F / "recipe.toml.in",
}
DEMO_RECIPES: Final = {target: template.with_suffix("") for target, template in DEMO_RECIPE_TEMPLATES.items()}
DEMO_RECIPE_TEMPLATE: Final = DEMO_RECIPE_TEMPLATES[NRF52840]
DEMO_RECIPE: Final = DEMO_RECIPES[NRF52840]
RECIPE_FILE_NAME: Final = "recipe.toml"


def demo_recipe_template(target: str) -> Path:
    """The template of a family's demo recipe; a SimulationError names the families that have one."""
    template = DEMO_RECIPE_TEMPLATES.get(target)
    if template is None:
        raise SimulationError(f"no demo recipe for target {target!r} (one of: {', '.join(DEMO_RECIPE_TEMPLATES)})")
    return template


def render_demo_recipe(
    firmware: DemoFirmware,
    *,
    relative_to: Path,
    plan: CredentialPlan | str = CredentialPlan.STATION_GENERATED,
) -> str:
    """The demo recipe's TOML text for ``firmware`` (from its family's template), naming image
    files relative to ``relative_to``."""
    template_path = demo_recipe_template(firmware.target)
    if not template_path.is_file():
        raise SimulationError(f"demo recipe template {template_path} is missing")
    values = {"firmware_version": firmware.firmware_version, "plan": CredentialPlan(plan).value}
    for key, image in (
        ("bootloader", firmware.bootloader),
        ("app_header", firmware.app_header),
        ("application", firmware.application),
    ):
        # Hash the file as the recipe loader will read it, by the recipe's own definition.
        content_hash = image_content_sha256(read_image(image.bin_path, ImageFormat.BIN, image.address))
        if content_hash != image.sha256:
            raise SimulationError(f"demo image {image.name} changed on disk after it was built")
        values[f"{key}_file"] = Path(os.path.relpath(image.bin_path, relative_to)).as_posix()
        values[f"{key}_sha256"] = content_hash
    template = string.Template(template_path.read_text(encoding="utf-8"))
    return template.substitute(values)


def write_demo_recipe(
    out_dir: Path,
    firmware: DemoFirmware,
    *,
    plan: CredentialPlan | str = CredentialPlan.STATION_GENERATED,
) -> Path:
    """Write ``recipe.toml`` into ``out_dir`` for ``firmware`` and check that it loads."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / RECIPE_FILE_NAME
    path.write_text(render_demo_recipe(firmware, relative_to=out_dir, plan=plan), encoding="utf-8")
    return path


def write_demo_recipe_folder(
    out_dir: Path,
    *,
    plan: CredentialPlan | str = CredentialPlan.STATION_GENERATED,
    target: str = DEFAULT_TARGET,
) -> tuple[Path, ...]:
    """A complete demo recipe with the images it pins, in ``out_dir`` (``station demo
    --write-recipe``): a recipe a newcomer can check, read and copy from a fresh clone, where
    the committed ``resources/demo/recipe.toml`` lacks its generated images. Never replaces a
    file: a folder that holds any of them is refused before anything is written. Returns the
    files written, the recipe first."""
    names = (RECIPE_FILE_NAME, BOOTLOADER_FILE, APP_HEADER_FILE, APPLICATION_FILE, HEX_FILE, ELF_FILE)
    if out_dir.exists() and not out_dir.is_dir():
        raise SimulationError(f"{out_dir} is not a folder; nothing was written")
    present = [name for name in names if (out_dir / name).exists()]
    if present:
        raise SimulationError(
            f"{out_dir} already holds {', '.join(present)}: give a new or empty folder (nothing was written)"
        )
    firmware = build_demo_firmware(out_dir, target=target)
    recipe = write_demo_recipe(out_dir, firmware, plan=plan)
    return (recipe, *(out_dir / name for name in names[1:]))


def load_demo_recipe(
    out_dir: Path,
    firmware: DemoFirmware,
    *,
    plan: CredentialPlan | str = CredentialPlan.STATION_GENERATED,
) -> Recipe:
    """Write the demo recipe and load it (which checks every image and hash)."""
    return load_recipe(write_demo_recipe(out_dir, firmware, plan=plan))


def render_committed_demo_recipe(target: str = DEFAULT_TARGET) -> str:
    """A family's committed demo recipe as it should be: the default demo firmware's recipe."""
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        firmware = build_demo_firmware(Path(directory), target=target)
        return render_demo_recipe(firmware, relative_to=Path(directory))


if __name__ == "__main__":  # python -m station.sim.demo_recipe: regenerate the committed demo recipes
    for family, committed in DEMO_RECIPES.items():
        committed.write_text(render_committed_demo_recipe(family), encoding="utf-8")
        print(f"wrote {committed}")
