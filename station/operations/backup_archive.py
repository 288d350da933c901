"""What a backup archive holds, and reading it back with every byte checked.

Inside the encryption (``station.security.backup_crypto``) an archive is a tar stream whose
first member is ``manifest.json``: the station, the time, the database's backend and schema
revision, the chain head of the copy (sequence and hash), where each key lives (a file in the
archive, or a token URI: a token's key is never in a backup), the recipes and every member
with its size and SHA-256. The manifest holds no secret. Members are named by what they are,
never by where they came from, and restored by the station's own rules, not by the tar's:

- ``database/station.sqlite`` or ``database/station.pgdump``: the database copy;
- ``chain-head.json``: the chain head file as it was just before the copy;
- ``data/...``: files of the data directory (``station.toml``, key files, the CA's files);
- ``recipes/GROUP/...``: each recipe with the images it pins, laid out as beside it.

The token key that protects an archive is an AES key (wrap and unwrap only, never extractable)
opened here, the same kind that wraps the vault's data key.
"""

from __future__ import annotations

import enum
import hashlib
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any, Final, Protocol

from station.domain.chain import ChainHead
from station.domain.errors import BackupError
from station.security.backup_crypto import ArchiveHeader, ArchiveReader, read_header
from station.security.pkcs11.pin import pin_source_for
from station.security.pkcs11.token import TokenSession
from station.security.pkcs11.uri import ObjectType, parse_pkcs11_uri
from station.security.pkcs11.wrap import DataKey, TokenKeyWrapper, generate_wrapping_key, open_wrapping_key

MANIFEST_NAME: Final = "manifest.json"
MANIFEST_FORMAT: Final = "station-backup-manifest"
MANIFEST_VERSION: Final = 1
DEFAULT_BACKUP_KEY_LABEL: Final = "station-backup-wrapping-key"
_MAXIMUM_MANIFEST_BYTES: Final = 16 << 20
_READ_BYTES: Final = 1 << 20


class MemberKind(enum.StrEnum):
    DATABASE = "database"
    CHAIN_HEAD = "chain-head"
    SETTINGS = "settings"
    SECRET = "secret"  # a key file: written 0600
    PUBLIC = "public"  # the CA certificate, a public key, a token key's URI
    RECIPE = "recipe"  # a recipe, an image it pins, a file beside it


@dataclass(frozen=True)
class Member:
    name: str
    kind: MemberKind
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind.value, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class RecipeEntry:
    """A recipe the settings name: where it was (``original``, resolved), which member holds it
    (None when it could not be read), who used it, and why it could not be loaded, if so."""

    original: str
    member: str | None
    used_by: tuple[str, ...]
    problem: str | None = None


@dataclass(frozen=True)
class Manifest:
    station: str
    created_at: datetime
    backend: str
    database: str  # its URL, password hidden
    schema_revision: str
    chain_head: ChainHead | None
    head_file: ChainHead | None
    vault_initialised: bool
    keys: dict[str, str]
    settings_dir: str | None  # where station.toml was: the base of its relative paths
    recipes: tuple[RecipeEntry, ...]
    members: tuple[Member, ...]
    notes: tuple[str, ...] = ()

    def to_bytes(self) -> bytes:
        document = {
            "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "station": self.station,
            "created_at": self.created_at.isoformat(), "backend": self.backend, "database": self.database,
            "schema_revision": self.schema_revision,
            "chain_head": None if self.chain_head is None else self.chain_head.to_document(),
            "head_file": None if self.head_file is None else self.head_file.to_document(),
            "vault_initialised": self.vault_initialised, "keys": self.keys, "settings_dir": self.settings_dir,
            "recipes": [{"original": entry.original, "member": entry.member, "used_by": list(entry.used_by),
                         "problem": entry.problem} for entry in self.recipes],
            "members": [member.to_json() for member in self.members], "notes": list(self.notes),
        }  # fmt: skip
        return (json.dumps(document, indent=2, ensure_ascii=True) + "\n").encode("ascii")

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """The manifest; BackupError when it is not one this station reads."""
        try:
            document = json.loads(data.decode("utf-8"))
            if document.get("format") != MANIFEST_FORMAT or document.get("version") != MANIFEST_VERSION:
                raise ValueError(f"format {document.get('format')!r} version {document.get('version')!r}")
            members = tuple(Member(str(item["name"]), MemberKind(item["kind"]), int(item["size"]), str(item["sha256"]))
                            for item in document["members"])  # fmt: skip
            recipes = tuple(RecipeEntry(str(item["original"]), item["member"], tuple(item["used_by"]), item["problem"])
                            for item in document["recipes"])  # fmt: skip
            return cls(
                station=str(document["station"]), created_at=datetime.fromisoformat(document["created_at"]),
                backend=str(document["backend"]), database=str(document["database"]),
                schema_revision=str(document["schema_revision"]), chain_head=_head(document["chain_head"]),
                head_file=_head(document["head_file"]), vault_initialised=bool(document["vault_initialised"]),
                keys={str(key): str(value) for key, value in document["keys"].items()},
                settings_dir=document["settings_dir"], recipes=recipes, members=members,
                notes=tuple(str(note) for note in document["notes"]),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as error:
            raise BackupError(f"the archive's manifest is not one this station reads ({error})") from None

    def member(self, kind: MemberKind) -> Member | None:
        return next((member for member in self.members if member.kind is kind), None)


def _head(document: object) -> ChainHead | None:
    return None if document is None else ChainHead.from_document(document)


def safe_member_name(name: str) -> PurePosixPath:
    """A member's name as a relative path with no way out of where it is restored; BackupError otherwise."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or any(part in ("", ".", "..") for part in name.split("/")) or "\\" in name:
        raise BackupError(f"the archive names a member {name!r} that could be written outside its place")
    return path


class Content(Protocol):
    """A member's content, read once from start to end."""

    def read(self, size: int = -1, /) -> bytes: ...


MemberHandler = Callable[[Member, Content], None]


def read_archive(path: Path, header: ArchiveHeader, key: DataKey, on_member: MemberHandler | None = None) -> Manifest:
    """Decrypt and check the whole archive: every chunk authenticates, the manifest comes first,
    every member is listed in it once with its size and SHA-256, and none is missing.
    ``on_member`` is handed each member's content as it is read (after the manifest)."""
    name = str(path)
    try:
        with path.open("rb") as stream:
            read_header(stream, name)
            reader = ArchiveReader(stream, header, key, name)
            manifest = _read_members(reader, name, on_member)
            reader.finish()
    except OSError as error:
        raise BackupError(f"cannot read {name}: {error.strerror or error}") from None
    return manifest


def _read_members(reader: ArchiveReader, name: str, on_member: MemberHandler | None) -> Manifest:
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
            first = tar.next()
            if first is None or first.name != MANIFEST_NAME or not first.isreg() \
                    or first.size > _MAXIMUM_MANIFEST_BYTES:
                raise BackupError(f"{name}: the archive does not begin with its manifest")
            manifest = Manifest.from_bytes(_content(tar, first).read())
            expected = {member.name: member for member in manifest.members}
            for listed in manifest.members:
                safe_member_name(listed.name)
            seen: set[str] = set()
            for info in tar:
                if info is first:  # iterating a tar yields the members read so far again
                    continue
                member = expected.get(info.name)
                if member is None or info.name in seen or not info.isreg():
                    raise BackupError(f"{name}: the archive holds {info.name!r}, which its manifest does not list")
                seen.add(info.name)
                checked = _Checked(_content(tar, info))
                if on_member is not None:
                    on_member(member, checked)
                checked.drain()
                if checked.size != member.size or checked.digest.hexdigest() != member.sha256:
                    raise BackupError(f"{name}: {member.name} differs from the manifest's size and SHA-256")
    except tarfile.TarError as error:
        raise BackupError(f"{name}: the archive's contents are not readable ({error})") from None
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"{name}: the archive lacks {', '.join(missing)}, which its manifest lists")
    return manifest


def _content(tar: tarfile.TarFile, info: tarfile.TarInfo) -> IO[bytes]:
    content = tar.extractfile(info)
    if content is None:
        raise BackupError(f"the archive's member {info.name!r} is not a file")
    return content


class _Checked:
    """A member's content as it is read, hashed and counted on the way."""

    def __init__(self, content: IO[bytes]) -> None:
        self._content = content
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._content.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(_READ_BYTES):
            pass


# ---- the token key that protects an archive -----------------------------------------------------


@dataclass
class BackupTokenKey:
    """An open token session and its wrapping key; ``uri`` names the key, for the archive's header."""

    session: TokenSession
    wrapper: TokenKeyWrapper
    uri: str

    def close(self) -> None:
        self.session.close()


def open_backup_token_key(
    uri_text: str,
    *,
    module: Path | None = None,
    pin_file: Path | None = None,
    pin_credential: str | None = None,
    prompt: Callable[[str], str] | None = None,
    create: bool = False,
) -> BackupTokenKey:
    """The token's AES wrapping key that ``uri_text`` names (``object=``; default
    ``station-backup-wrapping-key``), made in the token when ``create`` and it is not there."""
    uri = parse_pkcs11_uri(uri_text)
    label = uri.object or DEFAULT_BACKUP_KEY_LABEL
    source = pin_source_for(uri, pin_file=pin_file, credential=pin_credential, prompt=prompt)
    session = TokenSession.open(uri, source, module_path=module, writable=create)
    try:
        if create and not session.exists(label):
            wrapper = generate_wrapping_key(session, label)
        else:
            wrapper = open_wrapping_key(session, label)
        return BackupTokenKey(session, wrapper, str(session.uri.with_object(label, ObjectType.SECRET_KEY)))
    except BaseException:
        session.close()
        raise
