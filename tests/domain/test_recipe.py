"""Recipe loading: every way a recipe can be wrong is refused with its place named, and nothing
is written; a good recipe exposes its images' bytes and a hash of its own text."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from station.domain.errors import BindingError, RecipeError, RecipeProblemsError
from station.domain.firmware_images import image_content_sha256
from station.domain.identity import DeviceId
from station.domain.recipe import (
    CredentialPlan,
    ImageFormat,
    KeyType,
    LockMethod,
    LockSettings,
    RegionRole,
    ReplyFormat,
    StepName,
)
from station.domain.recipe_loader import load_recipe
from station.domain.scan import SerialRuleKind

from .recipe_support import APP_HEADER, APPLICATION, BOOTLOADER, RecipeFactory, elf_file, hex_file, sha256

Document = dict[str, Any]


def refused(recipes: RecipeFactory, document: Document | None = None, *, text: str | None = None) -> str:
    """Load a broken recipe: it must raise RecipeError and leave every file as it was."""
    path = recipes.write(document, text=text)
    before = recipes.snapshot()
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    assert recipes.snapshot() == before, "loading a recipe must not write anything"
    assert caught.value.code == "RECIPE"
    return str(caught.value)


# --------------------------------------------------------------------------- the good recipe


def test_valid_recipe_loads_with_every_part(recipes: RecipeFactory) -> None:
    recipe = load_recipe(recipes.write())

    assert recipe.product == "ACME-TOASTER"
    assert recipe.target == "nrf52840"
    assert recipe.firmware_version == "1.4.2"
    assert recipe.flash.size == 0x100000 and recipe.flash.page_size == 0x1000
    assert [region.role for region in recipe.flash.regions] == [
        RegionRole.BOOTLOADER, RegionRole.APP_HEADER, RegionRole.APPLICATION, RegionRole.CREDENTIALS,
        RegionRole.KEY_STORE,
    ]
    assert recipe.flash.credentials_region.address == 0xFE000
    assert recipe.flash.key_store_region is not None and recipe.flash.key_store_region.address == 0xFF000
    assert [image.name for image in recipe.images] == ["bootloader", "app_header", "application"]
    assert recipe.images[2].format is ImageFormat.BIN
    assert recipe.images[2].segments[0].address == 0x11000
    assert recipe.images[2].segments[0].data == APPLICATION
    assert recipe.image_hashes == (sha256(BOOTLOADER), sha256(APP_HEADER), sha256(APPLICATION))
    assert recipe.serial_rule.kind is SerialRuleKind.REGEX
    assert recipe.credentials.plan is CredentialPlan.STATION_GENERATED
    assert recipe.credentials.key_type is KeyType.EC_P256
    assert recipe.lock == LockSettings(LockMethod.NRF52_APPROTECT)
    assert recipe.flash.chip_erase  # the station may erase the whole chip where that is cheaper
    assert recipe.console.reply_format is ReplyFormat.GECKO_MACHINE
    assert recipe.console.line_ending == "\r\n"
    assert recipe.console.success.match("R000012")
    assert recipe.console.commands.activate_command("SECRET") == "dms_activate SECRET"
    assert recipe.console.commands.csr_command("acme-1") == "csr_generate acme-1"
    assert recipe.activation.product == "ACME-TOASTER"
    assert recipe.step(StepName.CONNECT).retries == 2
    assert recipe.step("flash").timeout_seconds == 90.0 and recipe.step("flash").retries == 1  # default retries
    assert recipe.step(StepName.IDENTITY).timeout_seconds == 30.0  # all defaults
    assert recipe.binding is None


def test_content_hash_is_sha256_of_the_file_and_any_edit_changes_it(recipes: RecipeFactory) -> None:
    path = recipes.write()
    first = load_recipe(path)
    assert first.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert first.source_text == path.read_text(encoding="utf-8")

    path.write_text(path.read_text(encoding="utf-8") + "# a comment is an edit too\n", encoding="utf-8")
    assert load_recipe(path).content_hash != first.content_hash

    document = recipes.document()
    document["credentials"]["validity_days"] = 365
    assert load_recipe(recipes.write(document)).content_hash not in (first.content_hash,)


def test_bin_hex_and_elf_of_the_same_firmware_have_one_content_hash(recipes: RecipeFactory) -> None:
    segments = [(0x0, BOOTLOADER), (0x10000, APP_HEADER), (0x11000, APPLICATION)]
    recipes.add_file("firmware.hex", hex_file(segments))
    recipes.add_file("firmware.elf", elf_file(segments))
    combined = sha256(BOOTLOADER + APP_HEADER + APPLICATION)

    for name in ("firmware.hex", "firmware.elf"):
        document = recipes.document()
        document["images"] = {"firmware": {"file": name, "sha256": combined}}
        recipe = load_recipe(recipes.write(document))
        image = recipe.images[0]
        assert image.format is (ImageFormat.HEX if name.endswith(".hex") else ImageFormat.ELF)
        assert [(segment.address, segment.data) for segment in image.segments] == segments
        assert image.sha256 == combined == image_content_sha256(image.segments)


def test_format_can_be_given_explicitly_for_an_unusual_extension(recipes: RecipeFactory) -> None:
    recipes.add_file("app.img", APPLICATION)
    document = recipes.document()
    document["images"]["application"].update(file="app.img", format="bin")
    assert load_recipe(recipes.write(document)).images[2].path.name == "app.img"


def test_gs1_rule_update_settings_and_binding_load(recipes: RecipeFactory) -> None:
    certificate_der = bytes([0x30, 0x82, 0x01, 0x00]) + bytes(252)
    recipes.add_file("update.der", certificate_der)
    document = recipes.document()
    document["serial"] = {"kind": "gs1", "application_identifier": "21", "gtin": "07032069804988"}
    vendor, device_class = uuid.uuid4(), uuid.uuid4()
    document["credentials"].update(
        plan="device-generated",
        update_vendor_id=str(vendor),
        update_class_id=str(device_class),
        update_auth_certificate="update.der",
    )
    document["binding"] = {"require_listed": False, "devices": {"TST-000001": "00112233aabbccdd"}}
    recipe = load_recipe(recipes.write(document))

    assert recipe.serial_rule.kind is SerialRuleKind.GS1 and recipe.serial_rule.gtin == "07032069804988"
    assert recipe.credentials.plan is CredentialPlan.DEVICE_GENERATED
    assert recipe.credentials.update_vendor_id == vendor and recipe.credentials.update_class_id == device_class
    assert recipe.credentials.update_auth_certificate == certificate_der
    assert recipe.binding is not None
    assert recipe.binding.expected_device_id("TST-000001") == "00112233AABBCCDD"
    recipe.binding.check("TST-000001", DeviceId("00112233AABBCCDD"))
    recipe.binding.check("TST-000002", "0000000000000001")  # not listed, not required
    with pytest.raises(BindingError, match="bound to device 00112233AABBCCDD"):
        recipe.binding.check("TST-000001", "0000000000000001")


def test_endpoint_name_template_renders_per_unit(recipes: RecipeFactory) -> None:
    document = recipes.document()
    document["credentials"]["endpoint_name"] = "{serial}-{device_id}"
    recipe = load_recipe(recipes.write(document))
    assert recipe.credentials.endpoint_name("TST-000001", DeviceId("00112233AABBCCDD")) == "TST-000001-00112233AABBCCDD"


# --------------------------------------------------------------------------- file-level errors


def test_missing_recipe_file(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="recipe file does not exist"):
        load_recipe(tmp_path / "nowhere.toml")
    assert list(tmp_path.iterdir()) == []


def test_invalid_toml_names_the_file(recipes: RecipeFactory) -> None:
    message = refused(recipes, text='schema = 1\nproduct = "ACME-TOASTER\n')
    assert message.startswith("recipe.toml: not valid TOML")


def test_empty_recipe(recipes: RecipeFactory) -> None:
    assert refused(recipes, text="") == "recipe.toml: schema: missing (required)"


def test_not_utf8(recipes: RecipeFactory) -> None:
    path = recipes.directory / "recipe.toml"
    path.write_bytes(b"product = \"\xff\"\n")
    before = recipes.snapshot()
    with pytest.raises(RecipeError, match=r"recipe\.toml: recipe is not UTF-8 text"):
        load_recipe(path)
    assert recipes.snapshot() == before


# --------------------------------------------------------------------------- strict keys and types


def _set(path: tuple[str, ...], value: Any) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        target = document
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return mutate


def _delete(path: tuple[str, ...]) -> Callable[[Document], None]:
    def mutate(document: Document) -> None:
        target = document
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return mutate


STRICTNESS_CASES = [
    ("unknown top-level key", _set(("colour",), "red"), "recipe.toml: colour: unknown key (allowed here:"),
    ("unknown flash key", _set(("flash", "sectors"), 4), "recipe.toml: [flash] sectors: unknown key"),
    ("unknown region key", _set(("regions", "application", "erase"), True),
     "recipe.toml: [regions.application] erase: unknown key"),
    ("unknown image key", _set(("images", "application", "crc"), "x"),
     "recipe.toml: [images.application] crc: unknown key"),
    ("unknown serial key", _set(("serial", "prefix"), "TST"), "recipe.toml: [serial] prefix: unknown key"),
    ("unknown credentials key", _set(("credentials", "key_size"), 256),
     "recipe.toml: [credentials] key_size: unknown key"),
    ("unknown lock key", _set(("lock", "force"), True), "recipe.toml: [lock] force: unknown key"),
    ("unknown console command", _set(("console", "commands", "erase"), "erase"),
     "recipe.toml: [console.commands] erase: unknown key"),
    ("unknown activation key", _set(("activation", "token"), "abc"), "recipe.toml: [activation] token: unknown key"),
    ("unknown step", _set(("steps", "paint"), {"timeout_seconds": 1}), "recipe.toml: [steps] paint: unknown key"),
    ("unknown step key", _set(("steps", "flash", "delay"), 1), "recipe.toml: [steps.flash] delay: unknown key"),
    ("string for integer", _set(("flash", "size"), "1M"),
     "recipe.toml: [flash] size: must be an integer, not a string"),
    ("boolean for integer", _set(("console", "baud_rate"), True),
     "recipe.toml: [console] baud_rate: must be an integer, not a boolean"),
    ("integer for string", _set(("product",), 5), "recipe.toml: product: must be a string, not an integer"),
    ("string for table", _set(("lock",), "nrf52-approtect"), "recipe.toml: lock: must be a table, not a string"),
    ("missing product", _delete(("product",)), "recipe.toml: product: missing (required)"),
    ("missing image hash", _delete(("images", "application", "sha256")),
     "recipe.toml: [images.application] sha256: missing (required)"),
    ("missing console", _delete(("console",)), "recipe.toml: console: missing (required)"),
    ("other schema", _set(("schema",), 2), "recipe.toml: schema: this station reads recipe schema 1, not 2"),
    ("bad product code", _set(("product",), "acme toaster"),
     "recipe.toml: product: 'acme toaster' is not a product code"),
    ("bad target", _set(("target",), "nRF52 840"), "recipe.toml: target: 'nRF52 840' is not a pyOCD target type"),
    ("long firmware version", _set(("firmware_version",), "1" * 33),
     "recipe.toml: firmware_version: must be 1 to 32 bytes"),
]


@pytest.mark.parametrize(("mutate", "expected"), [case[1:] for case in STRICTNESS_CASES],
                         ids=[case[0] for case in STRICTNESS_CASES])
def test_strict_keys_and_types(recipes: RecipeFactory, mutate: Callable[[Document], None], expected: str) -> None:
    document = recipes.document()
    mutate(document)
    assert expected in refused(recipes, document)


# --------------------------------------------------------------------------- flash geometry


GEOMETRY_CASES = [
    ("overlapping regions", _set(("regions", "app_header", "address"), 0xF000),
     "recipe.toml: [regions.app_header]: overlaps region [regions.bootloader] (bootloader, 0x00000000-0x00010000)"),
    ("region outside flash", _set(("regions", "key_store", "address"), 0x100000),
     "recipe.toml: [regions.key_store]: lies outside flash (0x00100000-0x00101000 is not within "
     "0x00000000-0x00100000)"),
    ("region not page aligned", _set(("regions", "credentials", "address"), 0xFE800),
     "recipe.toml: [regions.credentials] address: region 0x000FE800-0x000FF800 is not aligned to the page size"),
    ("page size not a power of two", _set(("flash", "page_size"), 0x1800),
     "recipe.toml: [flash] page_size: must be a power of two, not 0x1800"),
    ("chip erase not a boolean", _set(("flash", "chip_erase"), "sometimes"),
     "recipe.toml: [flash] chip_erase: must be"),
    ("unknown role", _set(("regions", "key_store", "role"), "secrets"),
     "recipe.toml: [regions.key_store] role: 'secrets' is not one of: bootloader, app_header, application, "
     "credentials, key_store, keep"),
    ("no credentials region", _delete(("regions", "credentials")),
     "recipe.toml: [regions]: no region with role 'credentials' (exactly one is required)"),
    ("two application regions", lambda document: (
        _set(("regions", "application", "size"), 0xEC000)(document),
        _set(("regions", "spare"), {"role": "application", "address": 0xFD000, "size": 0x1000})(document),
    ),
     "recipe.toml: [regions]: more than one region with role 'application'"),
]


@pytest.mark.parametrize(("mutate", "expected"), [case[1:] for case in GEOMETRY_CASES],
                         ids=[case[0] for case in GEOMETRY_CASES])
def test_flash_geometry_errors(recipes: RecipeFactory, mutate: Callable[[Document], None], expected: str) -> None:
    document = recipes.document()
    mutate(document)
    assert expected in refused(recipes, document)


def test_device_generated_plan_needs_a_key_store(recipes: RecipeFactory) -> None:
    document = recipes.document()
    document["credentials"]["plan"] = "device-generated"
    del document["regions"]["key_store"]
    assert "recipe.toml: [regions]: the device-generated plan needs a region with role 'key_store'" in refused(
        recipes, document
    )


# --------------------------------------------------------------------------- images


def test_missing_image_file(recipes: RecipeFactory) -> None:
    (recipes.directory / "application.bin").unlink()
    message = refused(recipes)
    assert message.startswith("recipe.toml: [images.application] file: image file ")
    assert message.endswith("application.bin does not exist")


def test_image_hash_differs_from_the_pinned_one(recipes: RecipeFactory) -> None:
    changed = APPLICATION[:-1] + b"\x00"
    recipes.add_file("application.bin", changed)
    message = refused(recipes)
    assert message == (
        "recipe.toml: [images.application] sha256: image hash differs from the pinned one "
        f"(file {sha256(changed)}, pinned {sha256(APPLICATION)})"
    )


def test_pinned_hash_must_look_like_sha256(recipes: RecipeFactory) -> None:
    document = recipes.document()
    document["images"]["application"]["sha256"] = "abc"
    assert "recipe.toml: [images.application] sha256: must be 64 hex digits" in refused(recipes, document)


def test_image_outside_flash(recipes: RecipeFactory) -> None:
    document = recipes.document()
    document["images"]["application"]["address"] = 0xFFFFF000
    assert (
        "recipe.toml: [images.application]: image lies outside flash (0xFFFFF000-0xFFFFF400 is not within "
        "0x00000000-0x00100000)"
    ) in refused(recipes, document)


def test_image_running_past_the_end_of_flash(recipes: RecipeFactory) -> None:
    document = recipes.document()
    document["images"]["application"]["address"] = 0xFFE00
    assert "recipe.toml: [images.application]: image lies outside flash" in refused(recipes, document)


@pytest.mark.parametrize(("address", "region", "role"), [(0xFE000, "credentials", "credentials"),
                                                        (0xFEE00, "credentials", "credentials"),
                                                        (0xFF100, "key_store", "key_store")])
def test_image_overlapping_a_credential_or_key_store_region(
    recipes: RecipeFactory, address: int, region: str, role: str
) -> None:
    document = recipes.document()
    document["images"]["application"]["address"] = address
    message = refused(recipes, document)
    assert f"recipe.toml: [images.application]: image overlaps the {role} region [regions.{region}]" in message
    assert "programming must never write there" in message


def test_image_overlapping_a_keep_region(recipes: RecipeFactory) -> None:
    document = recipes.document()
    document["regions"]["application"]["size"] = 0xEC000
    document["regions"]["calibration"] = {"role": "keep", "address": 0xFD000, "size": 0x1000}
    document["images"]["application"]["address"] = 0xFCE00
    assert "image overlaps the keep region [regions.calibration]" in refused(recipes, document)


def test_image_in_no_programmable_region(recipes: RecipeFactory) -> None:
    document = recipes.document()
    document["regions"]["application"] = {"role": "application", "address": 0x20000, "size": 0xDE000}
    assert (
        "recipe.toml: [images.application]: image bytes at 0x00011000-0x00011400 are in no programmable region"
    ) in refused(recipes, document)


def test_overlapping_images(recipes: RecipeFactory) -> None:
    recipes.add_file("patch.bin", b"\x01" * 32)
    document = recipes.document()
    document["images"]["patch"] = {"file": "patch.bin", "address": 0x11100, "sha256": sha256(b"\x01" * 32)}
    assert (
        "recipe.toml: [images.patch]: image overlaps image [images.application] at 0x00011100-0x00011120"
    ) in refused(recipes, document)


def test_hex_image_overlapping_credentials(recipes: RecipeFactory) -> None:
    data = b"\xaa" * 64
    recipes.add_file("bad.hex", hex_file([(0x11000, APPLICATION), (0xFE000, data)]))
    document = recipes.document()
    document["images"] = {"firmware": {"file": "bad.hex", "sha256": sha256(APPLICATION + data)}}
    assert "recipe.toml: [images.firmware]: image overlaps the credentials region [regions.credentials]" in refused(
        recipes, document
    )


def test_bin_image_needs_an_address(recipes: RecipeFactory) -> None:
    document = recipes.document()
    del document["images"]["application"]["address"]
    assert "recipe.toml: [images.application] address: missing (required)" in refused(recipes, document)


def test_hex_image_may_not_have_an_address(recipes: RecipeFactory) -> None:
    recipes.add_file("app.hex", hex_file([(0x11000, APPLICATION)]))
    document = recipes.document()
    document["images"]["application"].update(file="app.hex")
    assert "recipe.toml: [images.application] address: only BIN images take an address" in refused(recipes, document)


def test_unknown_extension_without_format(recipes: RecipeFactory) -> None:
    recipes.add_file("app.img", APPLICATION)
    document = recipes.document()
    document["images"]["application"]["file"] = "app.img"
    assert "recipe.toml: [images.application] format: cannot tell the format of 'app.img'" in refused(recipes, document)


def test_damaged_hex_file(recipes: RecipeFactory) -> None:
    recipes.add_file("app.hex", b":10000000ZZ\n")
    document = recipes.document()
    document["images"]["application"] = {"file": "app.hex", "sha256": sha256(APPLICATION)}
    assert "recipe.toml: [images.application] file: app.hex is not a valid HEX image" in refused(recipes, document)


def test_damaged_elf_file(recipes: RecipeFactory) -> None:
    recipes.add_file("app.elf", elf_file([(0x11000, APPLICATION)])[:60])
    document = recipes.document()
    document["images"]["application"] = {"file": "app.elf", "sha256": sha256(APPLICATION)}
    assert "recipe.toml: [images.application] file: app.elf is not a valid ELF image" in refused(recipes, document)


def test_empty_image(recipes: RecipeFactory) -> None:
    recipes.add_file("empty.bin", b"")
    document = recipes.document()
    document["images"]["application"].update(file="empty.bin", sha256=sha256(b""))
    assert "recipe.toml: [images.application] file: empty.bin holds no bytes to program" in refused(recipes, document)


# --------------------------------------------------------------------------- the other sections


SECTION_CASES = [
    ("regex rule without pattern", _set(("serial",), {"kind": "regex"}),
     'recipe.toml: [serial] pattern: missing (required for kind = "regex")'),
    ("bad regular expression", _set(("serial", "pattern"), "^TST-[0-9"),
     "recipe.toml: [serial] pattern: not a valid regular expression"),
    ("pattern matching an empty scan", _set(("serial", "pattern"), ".*"),
     "recipe.toml: [serial] pattern: matches an empty scan"),
    ("unknown rule kind", _set(("serial", "kind"), "qr"), "recipe.toml: [serial] kind: 'qr' is not one of: regex, gs1"),
    ("gs1 key in regex rule", _set(("serial", "gtin"), "07032069804988"),
     'recipe.toml: [serial] gtin: only for kind = "gs1"'),
    ("unknown application identifier", _set(("serial",), {"kind": "gs1", "application_identifier": "99999"}),
     "recipe.toml: [serial] application_identifier: (99999) is not a GS1 application identifier"),
    ("gtin with bad check digit", _set(("serial",), {"kind": "gs1", "gtin": "07032069804987"}),
     "recipe.toml: [serial] gtin: not a valid GTIN: Invalid GTIN check digit"),
    ("unknown plan", _set(("credentials", "plan"), "pre-provisioned"),
     "recipe.toml: [credentials] plan: 'pre-provisioned' is not one of: station-generated, device-generated"),
    ("unknown placeholder", _set(("credentials", "endpoint_name"), "{serial}-{lot}"),
     "recipe.toml: [credentials] endpoint_name: unknown placeholder {lot} (allowed: {device_id}, {serial})"),
    ("attribute access in template", _set(("credentials", "endpoint_name"), "{serial.__class__}"),
     "recipe.toml: [credentials] endpoint_name: unknown placeholder {serial.__class__}"),
    ("format spec in template", _set(("credentials", "endpoint_name"), "{serial:>30}"),
     "recipe.toml: [credentials] endpoint_name: placeholder {serial} may not carry a conversion or format spec"),
    ("malformed template", _set(("credentials", "endpoint_name"), "toaster-{serial"),
     "recipe.toml: [credentials] endpoint_name: malformed template"),
    ("template without unit", _set(("credentials", "endpoint_name"), "toaster"),
     "recipe.toml: [credentials] endpoint_name: must contain {serial} or {device_id}"),
    ("endpoint name too long", _set(("credentials", "endpoint_name"), "x" * 40 + "-{serial}-{device_id}"),
     "recipe.toml: [credentials] endpoint_name: is 78 characters for a 20-character serial"),
    ("unknown key type", _set(("credentials", "key_type"), "rsa-2048"),
     "recipe.toml: [credentials] key_type: 'rsa-2048' is not one of: ec-p256, ec-p384"),
    ("zero validity", _set(("credentials", "validity_days"), 0),
     "recipe.toml: [credentials] validity_days: must be at least 1, not 0"),
    ("server uri without host", _set(("credentials", "server_uri"), "dms.example.com"),
     "recipe.toml: [credentials] server_uri: 'dms.example.com' is not a URI with a scheme and a host"),
    ("bad vendor id", _set(("credentials", "update_vendor_id"), "acme"),
     "recipe.toml: [credentials] update_vendor_id: 'acme' is not a UUID"),
    ("vendor id alone", _set(("credentials", "update_vendor_id"), str(uuid.UUID(int=1))),
     "recipe.toml: [credentials]: firmware update needs update_auth_certificate, update_vendor_id and "
     "update_class_id together"),
    ("missing update certificate", _set(("credentials", "update_auth_certificate"), "update.pem"),
     "recipe.toml: [credentials] update_auth_certificate: certificate file"),
    ("unknown lock method", _set(("lock", "method"), "fuse-blow"),
     "recipe.toml: [lock] method: unknown lock method 'fuse-blow' (known: nrf52-approtect, stm32-rdp1, stm32-rdp2, "
     "kinetis-fsec, efm32-debug-lock-word)"),
    ("lock method for another family", _set(("target",), "stm32f407vg"),
     "recipe.toml: [lock] method: lock method 'nrf52-approtect' is for nrf52* targets, not 'stm32f407vg'"),
    ("bad line ending", _set(("console", "line_ending"), "\r\n"),
     "recipe.toml: [console] line_ending: '\\r\\n' is not one of: crlf, lf, cr"),
    ("bad reply format", _set(("console", "reply_format"), "json"),
     "recipe.toml: [console] reply_format: 'json' is not one of: text, gecko-machine"),
    ("bad success pattern", _set(("console", "success"), "(R0"),
     "recipe.toml: [console] success: not a valid regular expression"),
    ("same success and failure", _set(("console", "failure"), "^R0"),
     "recipe.toml: [console] failure: is the same pattern as success"),
    ("negative timeout", _set(("console", "command_timeout_seconds"), -1),
     "recipe.toml: [console] command_timeout_seconds: must be more than 0"),
    ("activate without token", _set(("console", "commands", "activate"), "dms_activate"),
     "recipe.toml: [console.commands] activate: must contain {token}"),
    ("token in another command", _set(("console", "commands", "version"), "ver {token}"),
     "recipe.toml: [console.commands] version: unknown placeholder {token} (allowed: none)"),
    ("empty command", _set(("console", "commands", "reboot"), " "),
     "recipe.toml: [console.commands] reboot: must not be empty"),
    ("newline in command", _set(("console", "commands", "reboot"), "reboot\nver"),
     "recipe.toml: [console.commands] reboot: may not contain control characters"),
    ("bad activation product", _set(("activation", "product"), "toaster"),
     "recipe.toml: [activation] product: 'toaster' is not a product code"),
    ("zero step timeout", _set(("steps", "flash", "timeout_seconds"), 0),
     "recipe.toml: [steps.flash] timeout_seconds: must be more than 0"),
    ("too many retries", _set(("steps", "connect", "retries"), 11),
     "recipe.toml: [steps.connect] retries: must be at most 10, not 11"),
    ("negative retries", _set(("steps", "connect", "retries"), -1),
     "recipe.toml: [steps.connect] retries: must be at least 0, not -1"),
    ("binding with bad device id", _set(("binding",), {"devices": {"TST-000001": "xyz"}}),
     "recipe.toml: [binding.devices] TST-000001: device id 'xyz' is not 16, 24 or 32 hex digits"),
    ("binding one device twice", _set(("binding",), {"devices": {"TST-000001": "00000000000000AA",
                                                                 "TST-000002": "00000000000000aa"}}),
     "recipe.toml: [binding.devices] TST-000002: device 00000000000000AA is already bound to serial TST-000001"),
    ("binding with a bad serial", _set(("binding",), {"devices": {"TST 1": "00000000000000AA"}}),
     'recipe.toml: [binding.devices] "TST 1": the serial number may only hold printable characters'),
]


@pytest.mark.parametrize(("mutate", "expected"), [case[1:] for case in SECTION_CASES],
                         ids=[case[0] for case in SECTION_CASES])
def test_section_errors(recipes: RecipeFactory, mutate: Callable[[Document], None], expected: str) -> None:
    document = recipes.document()
    mutate(document)
    assert expected in refused(recipes, document)


def test_the_efm32_debug_lock_word_fits_series_1_efm32_and_efr32_targets_only(recipes: RecipeFactory) -> None:
    series_1 = "efm32gg1*, efm32jg1*, efm32pg1*, efm32tg11*, efr32bg1*, efr32fg1*, efr32mg1*, efr32zg14*"
    document = recipes.document()
    document["lock"]["method"] = "efm32-debug-lock-word"
    assert refused(recipes, document) == (
        f"recipe.toml: [lock] method: lock method 'efm32-debug-lock-word' is for {series_1} targets, not 'nrf52840'"
    )
    for target in ("efr32mg21a010f1024im32", "efm32gg990f1024"):  # Series 2 and Series 0 lock otherwise
        document["target"] = target
        assert f"is for {series_1} targets, not {target!r}" in refused(recipes, document)
    document["target"] = "efr32mg12p433f1024gm68"
    recipe = load_recipe(recipes.write(document))
    assert recipe.lock.method is LockMethod.EFM32_DEBUG_LOCK_WORD
    assert not recipe.lock.is_permanent and recipe.lock.no_rework_reason is None
    document["lock"]["permanent"] = True
    assert "permanent = true, but this efm32-debug-lock-word lock is undone by a rework erase" in refused(
        recipes, document
    )
    document["lock"] = {"method": "efm32-debug-lock-word", "mass_erase": False}
    assert "only the kinetis-fsec lock reads it, not efm32-debug-lock-word" in refused(recipes, document)


def test_a_kinetis_lock_that_disables_mass_erase_needs_the_recipe_s_explicit_consent(recipes: RecipeFactory) -> None:
    document = recipes.document()
    document["target"] = "k64f"
    document["lock"] = {"method": "kinetis-fsec", "backdoor": True}
    assert load_recipe(recipes.write(document)).lock == LockSettings(LockMethod.KINETIS_FSEC, backdoor=True)
    document["lock"]["mass_erase"] = False
    assert refused(recipes, document) == (
        "recipe.toml: [lock] permanent: this kinetis-fsec lock can never be undone (no erase reopens the unit, "
        "rework is impossible): the recipe must say permanent = true to write it"
    )
    document["lock"]["permanent"] = True
    recipe = load_recipe(recipes.write(document))
    assert recipe.lock.is_permanent and not recipe.lock.mass_erase and recipe.lock.permanent


def test_rdp_level_2_needs_the_recipe_s_explicit_consent(recipes: RecipeFactory) -> None:
    document = recipes.document()
    document["target"] = "stm32f429xi"
    document["lock"]["method"] = "stm32-rdp2"
    assert refused(recipes, document) == (
        "recipe.toml: [lock] permanent: this stm32-rdp2 lock can never be undone (no erase reopens the unit, "
        "rework is impossible): the recipe must say permanent = true to write it"
    )
    document["lock"]["permanent"] = True
    recipe = load_recipe(recipes.write(document))
    assert recipe.lock == LockSettings(LockMethod.STM32_RDP2, permanent=True) and recipe.lock.is_permanent
    document["lock"]["method"] = "stm32-rdp1"
    assert "permanent = true, but this stm32-rdp1 lock is undone by a rework erase" in refused(recipes, document)


def test_fresh_parts_that_ship_protected_are_the_recipe_s_word(recipes: RecipeFactory) -> None:
    document = recipes.document()
    document["lock"]["parts_ship_protected"] = True
    recipe = load_recipe(recipes.write(document))
    assert recipe.lock == LockSettings(LockMethod.NRF52_APPROTECT, parts_ship_protected=True)
    assert not recipe.lock.is_permanent


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("permanent", True, "recipe.toml: [lock] permanent: permanent = true, but this nrf52-approtect lock is "
                        "undone by a rework erase"),
    ("mass_erase", False, "recipe.toml: [lock] mass_erase: only the kinetis-fsec lock reads it, not nrf52-approtect"),
    ("backdoor", True, "recipe.toml: [lock] backdoor: only the kinetis-fsec lock reads it, not nrf52-approtect"),
    ("parts_ship_protected", "yes", "recipe.toml: [lock] parts_ship_protected: must be true or false, not a string"),
    ("level", 2, "recipe.toml: [lock] level"),
])
def test_lock_settings_that_do_not_fit_are_refused(
    recipes: RecipeFactory, key: str, value: object, expected: str
) -> None:
    document = recipes.document()
    document["lock"][key] = value
    assert expected in refused(recipes, document)


@pytest.mark.parametrize(("settings", "permanent"), [
    (LockSettings(LockMethod.NRF52_APPROTECT), False),
    (LockSettings(LockMethod.STM32_RDP1), False),
    (LockSettings(LockMethod.STM32_RDP2), True),
    (LockSettings(LockMethod.KINETIS_FSEC), False),
    (LockSettings(LockMethod.KINETIS_FSEC, backdoor=True), False),
    (LockSettings(LockMethod.KINETIS_FSEC, mass_erase=False), True),
])
def test_which_locks_no_erase_undoes(settings: LockSettings, permanent: bool) -> None:
    assert settings.is_permanent is permanent


def test_update_certificate_that_is_not_a_certificate(recipes: RecipeFactory) -> None:
    recipes.add_file("update.pem", b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
    document = recipes.document()
    document["credentials"].update(
        update_auth_certificate="update.pem", update_vendor_id=str(uuid.UUID(int=1)),
        update_class_id=str(uuid.UUID(int=2)),
    )
    assert "recipe.toml: [credentials] update_auth_certificate: update.pem holds a damaged PEM certificate" in refused(
        recipes, document
    )


@pytest.mark.parametrize("missing", [name.value for name in StepName])
def test_every_step_needs_its_policy(recipes: RecipeFactory, missing: str) -> None:
    document = recipes.document()
    del document["steps"][missing]
    with pytest.raises(RecipeError, match=rf"steps: no policy for step\(s\) {missing}: every step needs one"):
        load_recipe(recipes.write(document))


def test_a_step_policy_needs_both_its_timeout_and_retries(recipes: RecipeFactory) -> None:
    document = recipes.document()
    del document["steps"]["flash"]["retries"]
    with pytest.raises(RecipeError, match=r"\[steps.flash\] retries: missing \(required\)"):
        load_recipe(recipes.write(document))


def test_every_problem_of_a_recipe_is_reported_at_once(recipes: RecipeFactory) -> None:
    document = recipes.document()
    document["colour"] = "red"
    document["regions"]["key_store"]["size"] = 0x123  # not page aligned: images cannot be placed, but are read
    document["images"]["bootloader"]["sha256"] = "0" * 64
    document["images"]["application"]["file"] = "missing.bin"
    document["console"]["baud_rate"] = 1
    del document["steps"]["flash"]
    path = recipes.write(document)
    before = recipes.snapshot()
    with pytest.raises(RecipeProblemsError) as caught:
        load_recipe(path)
    assert recipes.snapshot() == before
    problems = [str(problem) for problem in caught.value.problems]
    assert [problem.split(":")[1].strip() for problem in problems] == [
        "colour", "[regions.key_store] size", "[images.bootloader] sha256", "[images.application] file",
        "[console] baud_rate", "steps",
    ]
    assert problems[1].endswith("not aligned to the page size 0x1000 (erasing one region would erase part of another)")
    assert "image hash differs from the pinned one" in problems[2]
    assert "missing.bin does not exist" in problems[3]
    assert problems[4] == "recipe.toml: [console] baud_rate: must be at least 300, not 1"
    assert "no policy for step(s) flash" in problems[5]
    assert str(caught.value) == "\n".join(problems)
    assert caught.value.code == "RECIPE" and isinstance(caught.value, RecipeError)


def test_a_wrong_schema_stops_the_reading(recipes: RecipeFactory) -> None:
    document = recipes.document()
    document["schema"] = 2
    document["colour"] = "red"
    assert refused(recipes, document) == "recipe.toml: schema: this station reads recipe schema 1, not 2"


def test_a_recipe_may_forbid_the_chip_erase(recipes: RecipeFactory) -> None:
    document = recipes.document()
    document["flash"]["chip_erase"] = False
    assert not load_recipe(recipes.write(document)).flash.chip_erase
