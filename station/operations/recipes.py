"""Checking a recipe before it is used, and describing what it does, for an engineer to read.

``station recipe check`` prints the description, and the engineer view shows the same text
before a recipe is chosen: one description, whichever front end asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from station.domain.recipe import Recipe
from station.domain.recipe_loader import load_recipe
from station.domain.scan import SerialRuleKind
from station.security.credentials import check_recipe_credentials


@dataclass(frozen=True)
class CheckedRecipe:
    recipe: Recipe
    description: str


def check_recipe(path: Path) -> CheckedRecipe:
    """Load a recipe with every check (images against their pinned hashes, credentials); writes nothing."""
    recipe = load_recipe(path)
    check_recipe_credentials(recipe.credentials)
    return CheckedRecipe(recipe, describe_recipe(recipe))


def describe_recipe(recipe: Recipe) -> str:
    """What the recipe does, line by line, ending with its hash and the verdict."""
    lines = [
        f"recipe      {recipe.path}",
        f"product     {recipe.product}" + (f"  ({recipe.description})" if recipe.description else ""),
        f"target      {recipe.target}",
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
    lines.append(f"lock        {recipe.lock_method.value}")
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
    lines.append(f"recipe sha256 {recipe.content_hash}")
    lines.append("OK: the recipe is valid and every image matches its pinned hash")
    return "\n".join(lines)
