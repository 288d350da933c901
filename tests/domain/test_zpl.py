"""Labels in ZPL: placeholders filled in, escaped so no data injects a command, GS1 codes right."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from biip.gs1_messages import GS1Message

from station.domain.errors import LabelError, RecipeError
from station.domain.label import read_label
from station.domain.strict_toml import StrictTable
from station.domain.zpl import LabelData, check_template, field_hex_decoded, render_label, zpl_commands

TEMPLATE = (
    "^XA\n^CI28\n"
    "^FO20,20^A0N,30,30^FDSN {serial}^FS\n"
    "^FO20,60^A0N,24,24^FD{product} fw {firmware} dev {device_id} {date}^FS\n"
    "^FO20,100^BXN,5,200,,,,_^FD{gs1}^FS\n"
    "^FO220,100^BQN,2,4^FDQA,{gs1}^FS\n"
    "^XZ\n"
)
GTIN = "09506000134352"


def unit(serial: str, gtin: str | None = GTIN) -> LabelData:
    return LabelData(serial, "0123456789ABCDEF", "ACME-TOASTER", "1.4.2", date(2024, 1, 31), gtin)


def fields(label: bytes) -> list[str]:
    """The text of every ^FD, as the printer reads it (after ^FH where the field has one)."""
    _, commands = zpl_commands(label.decode("ascii"))
    found = []
    for index, command in enumerate(commands):
        if command.name == "^FD":
            hexed = index > 0 and commands[index - 1].name == "^FH"
            found.append(field_hex_decoded(command.parameters) if hexed else command.parameters)
    return found


def test_the_fields_and_the_gs1_codes_of_one_unit() -> None:
    label = render_label(TEMPLATE, unit("TST-000001"))
    text, datamatrix, qr = fields(label)[0], fields(label)[2], fields(label)[3]
    assert text == "SN TST-000001"
    assert fields(label)[1] == "ACME-TOASTER fw 1.4.2 dev 0123456789ABCDEF 2024-01-31"
    assert datamatrix == "_1" + "01" + GTIN + "11240131" + "21TST-000001"  # FNC1 first, (21) last: no separator
    assert qr == "QA,01" + GTIN + "11240131" + "21TST-000001"
    message = GS1Message.parse(datamatrix.removeprefix("_1"))
    assert [(element.ai.ai, element.value) for element in message.element_strings] == [
        ("01", GTIN), ("11", "240131"), ("21", "TST-000001")]


def test_a_serial_holding_zpl_prefixes_does_not_change_the_commands() -> None:
    template = TEMPLATE.replace("^FO20,100^BXN,5,200,,,,_^FD{gs1}^FS\n^FO220,100^BQN,2,4^FDQA,{gs1}^FS\n",
                                "^FO220,100^BQN,2,4^FDQA,{serial}^FS\n")
    plain = render_label(template, unit("TST-000001"))
    for hostile in ("A^XZ~JR^XA", "~~^FS^FO0,0", "_41_", "Ü^", "A\x00B"):
        label = render_label(template, unit(hostile))
        assert [c.name for c in zpl_commands(label.decode("ascii"))[1]] == [
            c.name for c in zpl_commands(plain.decode("ascii"))[1]], hostile
        assert fields(label)[0] == f"SN {hostile}" and fields(label)[2] == f"QA,{hostile}"
        assert b"^" not in label.split(b"^FD", 1)[1].split(b"^FS", 1)[0]


def test_a_serial_gs1_cannot_carry_is_a_label_error_not_a_broken_code() -> None:
    with pytest.raises(LabelError, match="GS1 element string cannot be made"):
        render_label(TEMPLATE, unit("A^XZ"))
    with pytest.raises(LabelError, match="escape character"):
        render_label(TEMPLATE, unit("A_B"))  # '_' is GS1, but the DataMatrix's escape
    assert "_5F" in render_label(TEMPLATE.replace("^FO20,100^BXN,5,200,,,,_^FD{gs1}^FS\n", ""),
                                 unit("A_B")).decode("ascii")


def test_copies_add_a_quantity_and_without_a_gtin_the_code_starts_at_the_date() -> None:
    label = render_label(TEMPLATE, unit("TST-000002", gtin=None), copies=3).decode("ascii")
    assert label.endswith("^PQ3^XZ\n")
    assert fields(label.encode("ascii"))[2] == "_11124013121TST-000002"


@pytest.mark.parametrize(("template", "message"), [
    ("^XA^FO1,1^FD{serial}^FS", "exactly one label"),
    ("^XA^FO1,1^FD{serial}^FS^XZ^XA^XZ", "exactly one label"),
    ("^XA^FO{serial},1^FDx^FS^XZ", "stands in ^FO, outside any ^FD"),
    ("{serial}^XA^FDx^FS^XZ", "before the first command"),
    ("^XA^FO1,1^FD{token}^FS^XZ", "unknown placeholder {token}"),
    ("^XA^FO1,1^FD{serial}^FO2,2^FS^XZ", "that ^FS does not end"),
    ("^XA^FO1,1^FH\\^FD{serial}^FS^XZ", "leave ^FH out"),
    ("^XA^CC+^FO1,1^FDx^FS^XZ", "prefix or delimiter"),
    ("^XA^FO1,1^BXN,5,200^FD{gs1}^FS^XZ", "ECC 200, '_'"),
    ("^XA^FO1,1^BXN,5,200,,,,_^FD{serial}^FS^XZ", "carries only {gs1}"),
    ("^XA^FO1,1^FD{gs1}^FS^XZ", "{gs1} goes in a DataMatrix"),
    ("^XA^FO1,1^BQN,2,4^FD{serial}^FS^XZ", "starts with its error correction"),
])  # fmt: skip
def test_templates_that_could_let_data_into_commands_are_refused(template: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("^", r"\^").replace("+", r"\+")):
        check_template(template)


def _label_table(tmp_path: Path, content: bytes, **keys: object) -> StrictTable:
    (tmp_path / "label.zpl").write_bytes(content)
    table: dict[str, object] = {"template": "label.zpl", "template_sha256": hashlib.sha256(content).hexdigest(),
                                "printer": "tcp://127.0.0.1:9100", **keys}
    return StrictTable({"label": table}, "recipe.toml", (), None)


def test_the_label_table_is_read_strictly_and_the_template_pinned(tmp_path: Path) -> None:
    settings = read_label(_label_table(tmp_path, TEMPLATE.encode("ascii"), copies=2, gtin=GTIN), tmp_path)
    assert settings is not None
    assert (str(settings.printer), settings.copies, settings.gtin, settings.template) == (
        "tcp://127.0.0.1:9100", 2, GTIN, TEMPLATE)
    assert read_label(StrictTable({}, "recipe.toml", (), None), tmp_path) is None
    refusals: dict[str, dict[str, object]] = {
        "[label] colour: unknown key": {"colour": "red"},
        "[label] printer: 'lpt1' is not": {"printer": "lpt1"},
        "[label] template_sha256: template hash differs": {"template_sha256": "0" * 64},
        "[label] copies: must be at most 10": {"copies": 11},
        "[label] gtin: not a valid GTIN": {"gtin": "09506000134353"},
        "[label] template: template file": {"template": "missing.zpl"},
    }
    for message, keys in refusals.items():
        with pytest.raises(RecipeError, match=f"recipe.toml: {message}".replace("[", r"\[").replace("]", r"\]")):
            read_label(_label_table(tmp_path, TEMPLATE.encode("ascii"), **keys), tmp_path)
    with pytest.raises(RecipeError, match=r"\[label\] template: label.zpl \{token\}|unknown placeholder"):
        read_label(_label_table(tmp_path, b"^XA^FO1,1^FD{token}^FS^XZ"), tmp_path)
