"""Checking a recipe before it is used, and describing what it does, for an engineer to read.

``station recipe check`` prints the description, and the engineer view shows the same text
before a recipe is chosen: one description, whichever front end asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from station.domain.recipe import Recipe
from station.domain.recipe_loader import load_recipe
from station.domain.scan import SerialRuleKind
from station.domain.selftest import describe_validity
from station.domain.text import escape_text
from station.drivers.probe import check_pack_target
from station.drivers.profiles import profile_and_lock
from station.security.credentials import check_recipe_credentials


@dataclass(frozen=True)
class CheckedRecipe:
    recipe: Recipe
    description: str

    def to_json(self) -> dict[str, Any]:
        """What the description says, as data (``station recipe check --json``)."""
        return recipe_document(self.recipe)


def check_recipe(path: Path) -> CheckedRecipe:
    """Load a recipe with every check (images against their pinned hashes, credentials); writes nothing."""
    recipe = load_recipe(path)
    if recipe.pack is not None:
        check_pack_target(recipe.target)
    check_recipe_credentials(recipe.credentials)
    return CheckedRecipe(recipe, describe_recipe(recipe))


def describe_recipe(recipe: Recipe) -> str:
    """What the recipe does, line by line, ending with its hash and the verdict."""
    lines = [
        f"recipe      {recipe.path}",
        f"product     {recipe.product}" + (f"  ({recipe.description})" if recipe.description else ""),
        f"target      {recipe.target}",
        *_pack_lines(recipe),
        f"firmware    {recipe.firmware_version}",
        f"flash       0x{recipe.flash.start:08X}-0x{recipe.flash.end:08X}, page 0x{recipe.flash.page_size:X}",
        "regions",
    ]
    for region in recipe.flash.regions:
        size = f"{region.size // 1024} KiB" if region.size % 1024 == 0 else f"{region.size} bytes"
        lines.append(
            f"  {region.name:<16} {region.role.value:<12} 0x{region.address:08X}-0x{region.end:08X} ({size})"
        )
    lines.append("images")
    for image in recipe.images:
        spans = ", ".join(f"0x{segment.address:08X}-0x{segment.end:08X}" for segment in image.segments)
        lines.append(f"  {image.name:<16} {image.format.value:<4} {spans}  {image.size} bytes")
        lines.append(f"  {'':<16} sha256 {image.sha256}  ({image.path.name})")
    rule = recipe.serial_rule
    if rule.kind is SerialRuleKind.REGEX:
        lines.append(f"serial      regex {rule.pattern}")
    else:
        extra = f", GTIN {rule.gtin}" if rule.gtin else ""
        extra += f", pattern {rule.pattern}" if rule.pattern else ""
        lines.append(f"serial      GS1 ({rule.application_identifier}){extra}")
    credentials = recipe.credentials
    lines.append(
        f"credentials {credentials.plan.value}, endpoint {credentials.endpoint_name_template}, "
        f"{credentials.key_type.value}, {credentials.validity_days} days, server {credentials.server_uri}"
    )
    if credentials.update_vendor_id is not None:
        lines.append(
            f"update      vendor {credentials.update_vendor_id}, class {credentials.update_class_id}, "
            f"certificate {credentials.update_auth_certificate_path}"
        )
    profile, lock = profile_and_lock(recipe.target, recipe.lock.method)
    lines.append(f"profile     {profile.family} ({recipe.target}), device id from {profile.device_id_source}")
    lines.append(f"lock        {lock.describe()}")
    if recipe.lock.parts_ship_protected:
        lines.append("fresh parts ship locked: a locked unit whose serial has no record anywhere is erased first")
    if recipe.lock.no_rework_reason is not None:
        lines.append(f"WARNING     permanent lock: {recipe.lock.no_rework_reason}")
    lines.append(
        f"console     {recipe.console.baud_rate} baud, {recipe.console.reply_format.value} replies, "
        f"activate: {recipe.console.commands.activate}"
    )
    lines.append(f"activation  product {recipe.activation.product}, token pool {recipe.activation.token_pool}")
    lines.append(
        "steps       "
        + ", ".join(f"{step.name.value} {step.timeout_seconds:g}s x{step.retries}" for step in recipe.steps)
    )
    if recipe.binding is not None:
        listed = "only listed serials" if recipe.binding.require_listed else "listed serials checked"
        lines.append(f"binding     {len(recipe.binding.devices)} serials bound to device ids ({listed})")
    for instruction in recipe.instructions:
        path = instruction.picture_path
        picture = f"  (picture {escape_text(path.name)})" if path is not None else ""
        lines.append(f"instruction {instruction.step.value}: {escape_text(instruction.text)}{picture}")
    selftest = recipe.selftest
    if selftest.golden or selftest.required:
        required = (f"required before production, a pass counts for {describe_validity(selftest.valid_for)}"
                    if selftest.required else "not required before production")  # fmt: skip
        lines.append(f"selftest    golden {', '.join(selftest.golden)}; {required}")
    lines.append(f"recipe sha256 {recipe.content_hash}")
    lines.append("OK: the recipe is valid and every image matches its pinned hash")
    return "\n".join(lines)


def _pack_lines(recipe: Recipe) -> list[str]:
    """The CMSIS pack the target comes from, if any, and the device in it."""
    pack = recipe.pack
    if pack is None:
        return []
    vendor = f"{escape_text(pack.vendor)} " if pack.vendor else ""
    return [
        f"pack        {escape_text(str(pack.path))}",
        f"{'':<12}device {vendor}{escape_text(pack.device)} (pyOCD target {recipe.target}), sha256 {pack.sha256}",
    ]


def recipe_document(recipe: Recipe) -> dict[str, Any]:
    """The fields :func:`describe_recipe` prints, as JSON-ready data (addresses as numbers)."""
    rule = recipe.serial_rule
    credentials = recipe.credentials
    profile, lock = profile_and_lock(recipe.target, recipe.lock.method)
    return {
        "recipe": str(recipe.path),
        "product": recipe.product,
        "description": recipe.description,
        "target": recipe.target,
        "pack": None if recipe.pack is None else {
            "file": str(recipe.pack.path), "sha256": recipe.pack.sha256, "device": recipe.pack.device,
            "vendor": recipe.pack.vendor},
        "firmware_version": recipe.firmware_version,
        "flash": {"start": recipe.flash.start, "end": recipe.flash.end, "page_size": recipe.flash.page_size},
        "regions": [{"name": region.name, "role": region.role.value, "address": region.address, "end": region.end,
                     "size": region.size} for region in recipe.flash.regions],
        "images": [{"name": image.name, "format": image.format.value, "file": image.path.name, "size": image.size,
                    "sha256": image.sha256,
                    "segments": [{"address": segment.address, "end": segment.end} for segment in image.segments]}
                   for image in recipe.images],
        "serial_rule": {"kind": rule.kind.value, "pattern": rule.pattern, "gtin": rule.gtin,
                        "application_identifier": rule.application_identifier},
        "credentials": {"plan": credentials.plan.value, "endpoint_name_template": credentials.endpoint_name_template,
                        "key_type": credentials.key_type.value, "validity_days": credentials.validity_days,
                        "server_uri": credentials.server_uri},
        "lock_method": recipe.lock.method.value,
        "device_profile": profile.family,
        "lock": {"method": lock.method.value, "reversible": lock.reversible, "recovery": lock.recovery,
                 "permanent": recipe.lock.permanent, "parts_ship_protected": recipe.lock.parts_ship_protected},
        "console": {"baud_rate": recipe.console.baud_rate, "reply_format": recipe.console.reply_format.value},
        "activation": {"product": recipe.activation.product, "token_pool": recipe.activation.token_pool},
        "steps": [{"step": step.name.value, "timeout_s": step.timeout_seconds, "retries": step.retries}
                  for step in recipe.steps],
        "binding": None if recipe.binding is None else {
            "serials": len(recipe.binding.devices), "require_listed": recipe.binding.require_listed},
        "instructions": [{"step": instruction.step.value, "text": instruction.text,
                          "picture": None if instruction.picture_path is None else instruction.picture_path.name}
                         for instruction in recipe.instructions],
        "selftest": {"golden": list(recipe.selftest.golden), "required": recipe.selftest.required,
                     "valid_for": "shift" if recipe.selftest.valid_for is None
                     else describe_validity(recipe.selftest.valid_for)},
        "sha256": recipe.content_hash,
        "ok": True,
    }  # fmt: skip
