"""Flash and verify: program the recipe's images, then read every segment back.

Programming does the least flash work that reaches the image (:mod:`station.flow.flash_plan`);
the step's record says what was erased and why. pyOCD does not verify after programming, so
the station does: SHA-256 of what the unit holds against the image, and the first differing
address when they differ.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar

from station.domain.errors import VerifyError
from station.domain.recipe import Recipe, RegionRole, StepName
from station.domain.records import JournalState
from station.flow.flash_plan import ChipErasePermission, KeptRange
from station.flow.run import UnitRun
from station.flow.step import Step, StepContext


class FlashStep(Step):
    name: ClassVar[StepName] = StepName.FLASH
    reaches: ClassVar[JournalState | None] = JournalState.FLASHED

    def skip_reason(self, run: UnitRun) -> str | None:
        return run.resumed_note

    def run(self, run: UnitRun, step: StepContext) -> None:
        images = run.recipe.images
        segments = [(segment.address, segment.data) for image in images for segment in image.segments]
        report = run.attached().program(segments, step.report_progress, chip_erase_permission(run.recipe))
        step.detail = f"{sum(len(data) for _, data in segments)} bytes: {report.decision}"
        run.journal.attempts.set_attempt_fields(
            run.attempt_id, image_hashes=[f"{image.name}:{image.sha256}" for image in images]
        )


class VerifyStep(Step):
    name: ClassVar[StepName] = StepName.VERIFY
    reaches: ClassVar[JournalState | None] = JournalState.VERIFIED

    def skip_reason(self, run: UnitRun) -> str | None:
        return run.resumed_note

    def run(self, run: UnitRun, step: StepContext) -> None:
        unit = run.attached()
        images = run.recipe.images
        checked = []
        for index, image in enumerate(images):
            for segment in image.segments:
                read_back = unit.read(segment.address, len(segment.data))
                if hashlib.sha256(read_back).digest() != hashlib.sha256(segment.data).digest():
                    offset = next(i for i, (a, b) in enumerate(zip(read_back, segment.data, strict=True)) if a != b)
                    raise VerifyError(
                        f"{image.name}: flash read back differs from the image", address=segment.address + offset
                    )
            checked.append(f"{image.name} sha256 {image.sha256[:12]}… ok")
            step.report_progress((index + 1) / len(images))
        step.detail = "; ".join(checked)


def chip_erase_permission(recipe: Recipe) -> ChipErasePermission:
    """A chip erase is the recipe's to forbid; where it allows one, the keep regions and the key
    store must survive it (the probe driver reads them: a chip erase only while they are blank).
    The credentials region is not kept: the station writes the unit's credential after."""
    if not recipe.flash.chip_erase:
        return ChipErasePermission.refuse("the recipe forbids it ([flash] chip_erase = false)")
    kept = tuple(
        KeptRange(f"{region.role.value} region {region.name!r}", region.address, region.size)
        for region in recipe.flash.regions
        if region.role in (RegionRole.KEEP, RegionRole.KEY_STORE)
    )
    return ChipErasePermission.allow(kept)
