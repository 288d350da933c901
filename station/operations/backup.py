"""``station backup``: one encrypted archive holding what a station needs to be rebuilt, taken
while the station (and other processes on its database) keep working.

It holds a consistent copy of the database (``station.store.backup``), the chain head file as
it was just before the copy (so the copy extends it), ``station.toml``, the key files of the
data directory (the station key, the CA's passphrase-encrypted key, the CA certificate, the
station key's public half and the token-wrapped vault key when there are such) and the
recipes the settings name, each with the images it pins and the files beside it (a signature).
A key that lives in a token is never in a backup: the manifest names its URI. The archive's
key is protected by a passphrase or by an AES key in a token (``station.security.backup_crypto``).
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from station.config.paths import StationPaths
from station.config.settings import StationSettings, load_settings
from station.domain.chain import ChainHead
from station.domain.errors import BackupError, StationError
from station.domain.recipe_loader import load_recipe
from station.operations.backup_archive import (
    MANIFEST_NAME,
    BackupTokenKey,
    Manifest,
    Member,
    MemberKind,
    RecipeEntry,
    open_backup_token_key,
)
from station.operations.custody import STATION_PUBLIC_KEY_FILE, WRAPPED_VAULT_KEY_FILE
from station.security.backup_crypto import ArchiveHeader, ArchiveWriter, protect_with_passphrase, protect_with_token
from station.security.ca import CA_CERTIFICATE_FILE, CA_KEY_FILE, CA_TOKEN_KEY_FILE
from station.security.pkcs11.ca import token_ca_uri
from station.security.pkcs11.wrap import DataKey
from station.store.backup import copy_database
from station.store.database import head_file_path

_GROUP_NAME: Final = re.compile(r"[^A-Za-z0-9._-]+")
_COPY_BYTES: Final = 1 << 20


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    size: int
    manifest: Manifest


@dataclass
class _Pending:
    """A member to be written: its bytes, or a staged file (the database copy)."""

    name: str
    kind: MemberKind
    data: bytes = b""
    path: Path | None = None

    def member(self) -> Member:
        if self.path is None:
            return Member(self.name, self.kind, len(self.data), hashlib.sha256(self.data).hexdigest())
        digest = hashlib.sha256()
        with self.path.open("rb") as stream:
            while chunk := stream.read(_COPY_BYTES):
                digest.update(chunk)
        return Member(self.name, self.kind, self.path.stat().st_size, digest.hexdigest())


@dataclass
class _Contents:
    pending: list[_Pending] = field(default_factory=list)
    recipes: list[RecipeEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_file(self, name: str, kind: MemberKind, source: Path) -> bool:
        try:
            self.pending.append(_Pending(name, kind, source.read_bytes()))
        except FileNotFoundError:
            return False
        except OSError as error:
            raise BackupError(f"cannot read {source}: {error.strerror or error}; no backup was written") from None
        return True


def open_backup_token(
    uri: str, settings_path: Path, *, pin_file: Path | None, prompt: Callable[[str], str] | None, create: bool
) -> BackupTokenKey:
    """The token key ``uri`` names, its module and PIN source as the station's ``[custody]`` says
    unless ``pin_file`` is given (the settings may not exist yet when restoring)."""
    custody = load_settings(settings_path).custody
    return open_backup_token_key(
        uri, module=custody.pkcs11_module, pin_file=pin_file or custody.pin_file,
        pin_credential=None if pin_file is not None else custody.pin_credential, prompt=prompt, create=create,
    )  # fmt: skip


def make_backup(
    paths: StationPaths,
    settings_path: Path,
    out: Path,
    *,
    station: str,
    passphrase: str | None = None,
    token: BackupTokenKey | None = None,
) -> BackupSummary:
    """Write the archive ``out`` (never over an existing file): its key protected by
    ``passphrase`` or by ``token``'s key. BackupError, and no file, when anything fails."""
    if (passphrase is None) == (token is None):
        raise BackupError("a backup is protected by a passphrase or by a token key: give one")
    if out.exists():
        raise BackupError(f"{out} exists already: a backup never replaces a file; choose another name")
    if not out.parent.is_dir():
        raise BackupError(f"the folder {out.parent} does not exist")
    settings_path = settings_path.absolute()  # the recipes' paths as the restore will read them again
    settings = load_settings(settings_path)
    contents = _Contents()
    _gather_files(contents, paths, settings, settings_path)
    _gather_recipes(contents, settings)
    head_path = head_file_path(paths.db_url, paths.data_dir)
    head_file = _read_head_file(contents, head_path)  # before the copy, so that the copy extends it
    key = DataKey.generate()
    if passphrase is not None:
        header = protect_with_passphrase(key, passphrase)
    else:
        assert token is not None
        header = protect_with_token(key, token.wrapper, token.uri)
    with tempfile.TemporaryDirectory(prefix=".station-backup-", dir=out.parent) as staging:
        copy = copy_database(paths.db_url, Path(staging))
        contents.pending.append(_Pending(f"database/{copy.path.name}", MemberKind.DATABASE, path=copy.path))
        manifest = Manifest(
            station=station, created_at=datetime.now(UTC), backend=copy.backend, database=copy.source,
            schema_revision=copy.revision, chain_head=copy.head, head_file=head_file,
            vault_initialised=copy.vault_initialised, keys=_key_locations(paths, settings),
            settings_dir=str(settings_path.parent) if settings_path.is_file() else None,
            recipes=tuple(contents.recipes), members=tuple(item.member() for item in contents.pending),
            notes=tuple(contents.notes),
        )  # fmt: skip
        temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        try:
            _write_archive(temporary, header, key, manifest, contents.pending)
            os.replace(temporary, out)
        finally:
            temporary.unlink(missing_ok=True)
    return BackupSummary(out, out.stat().st_size, manifest)


def _gather_files(contents: _Contents, paths: StationPaths, settings: StationSettings, settings_path: Path) -> None:
    """The data directory's files a station needs, each by what it is; never a token's key."""
    custody = settings.custody
    contents.add_file("data/station.toml", MemberKind.SETTINGS, settings_path)
    if custody.station_key is None:
        contents.add_file(f"data/{paths.station_key_path.name}", MemberKind.SECRET, paths.station_key_path)
    contents.add_file(f"data/{STATION_PUBLIC_KEY_FILE}", MemberKind.PUBLIC, paths.data_dir / STATION_PUBLIC_KEY_FILE)
    contents.add_file(f"data/{WRAPPED_VAULT_KEY_FILE}", MemberKind.SECRET, paths.data_dir / WRAPPED_VAULT_KEY_FILE)
    ca = paths.ca_dir.name
    contents.add_file(f"data/{ca}/{CA_CERTIFICATE_FILE}", MemberKind.PUBLIC, paths.ca_dir / CA_CERTIFICATE_FILE)
    if custody.ca_key is None:
        contents.add_file(f"data/{ca}/{CA_KEY_FILE}", MemberKind.SECRET, paths.ca_dir / CA_KEY_FILE)
    contents.add_file(f"data/{ca}/{CA_TOKEN_KEY_FILE}", MemberKind.PUBLIC, paths.ca_dir / CA_TOKEN_KEY_FILE)


def _gather_recipes(contents: _Contents, settings: StationSettings) -> None:
    """Each recipe the settings name, once, with the files it names, under ``recipes/GROUP/``."""
    users: dict[str, list[str]] = {}
    for path, user in [(settings.recipe, "station"), *((slot.recipe, f"slot {slot.name}") for slot in settings.slots)]:
        if path is not None:
            users.setdefault(str(path), []).append(user)
    groups: set[str] = set()
    for original, used_by in users.items():
        path = Path(original)
        files, problem = _recipe_files(path)
        if not files:
            contents.recipes.append(RecipeEntry(original, None, tuple(used_by), problem))
            contents.notes.append(f"the recipe {original} could not be read: it is not in the backup")
            continue
        root = Path(os.path.commonpath([str(file.absolute().parent) for file in files]))
        group = _GROUP_NAME.sub("-", path.parent.name or path.stem).strip("-.") or "recipe"
        base, number = group, 2
        while group in groups:
            group, number = f"{base}-{number}", number + 1
        groups.add(group)
        for file in files:
            relative = file.absolute().relative_to(root).as_posix()
            contents.add_file(f"recipes/{group}/{relative}", MemberKind.RECIPE, file)
        member = f"recipes/{group}/{path.absolute().relative_to(root).as_posix()}"
        contents.recipes.append(RecipeEntry(original, member, tuple(used_by), problem))
        if problem is not None:
            contents.notes.append(f"the recipe {original} does not load ({problem}): archived as it is")


def _recipe_files(path: Path) -> tuple[list[Path], str | None]:
    """The recipe, every file it names (images, pack, certificate, pictures) and the files beside
    it that carry its name (``recipe.toml.sig``); the loader's refusal, if it refuses."""
    if not path.is_file():
        return [], "the file does not exist"
    files = [path]
    problem: str | None = None
    try:
        recipe = load_recipe(path)
    except StationError as error:
        problem = str(error)
    else:
        files += [image.path for image in recipe.images]
        files += [instruction.picture_path for instruction in recipe.instructions if instruction.picture_path]
        if recipe.pack is not None:
            files.append(recipe.pack.path)
        if recipe.credentials.update_auth_certificate_path is not None:
            files.append(recipe.credentials.update_auth_certificate_path)
    files += sorted(Path(found) for found in glob.glob(glob.escape(str(path)) + ".*")
                    if Path(found).is_file() and not found.endswith(".tmp"))  # fmt: skip
    unique: dict[Path, Path] = {}
    for file in files:
        unique.setdefault(file.absolute(), file)
    return list(unique.values()), problem


def _read_head_file(contents: _Contents, path: Path) -> ChainHead | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        contents.notes.append("there was no chain head file: the chain was empty, or the file was removed")
        return None
    except OSError as error:
        raise BackupError(f"cannot read the chain head file {path}: {error.strerror or error}") from None
    try:
        head = ChainHead.from_document(json.loads(data.decode("utf-8")))
    except (ValueError, UnicodeDecodeError) as error:
        contents.notes.append(f"the chain head file {path} is damaged ({error}): it is not in the backup")
        return None
    contents.pending.append(_Pending("chain-head.json", MemberKind.CHAIN_HEAD, data))
    return head


def _key_locations(paths: StationPaths, settings: StationSettings) -> dict[str, str]:
    """Where each key lives, for the manifest: a member of the archive, or a token's URI."""
    custody = settings.custody
    ca_uri = custody.ca_key or (str(uri) if (uri := token_ca_uri(paths.ca_dir)) is not None else None)
    ca_file = paths.ca_dir / CA_KEY_FILE
    return {
        "station_key": f"token {custody.station_key}" if custody.station_key
        else f"file {paths.station_key_path.name}" if paths.station_key_path.is_file() else "none yet",
        "ca_key": f"token {ca_uri}" if ca_uri else f"file {paths.ca_dir.name}/{CA_KEY_FILE} (passphrase-encrypted)"
        if ca_file.is_file() else "none yet",
        "vault_key": f"token {custody.vault_key} (the data key it wraps: {WRAPPED_VAULT_KEY_FILE})"
        if custody.vault_key else "passphrase (its scrypt parameters are in the database)",
    }  # fmt: skip


def _write_archive(
    temporary: Path, header: ArchiveHeader, key: DataKey, manifest: Manifest, pending: list[_Pending]
) -> None:
    moment = manifest.created_at.timestamp()
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as raw:
        writer = ArchiveWriter(raw, header, key)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            _add(tar, MANIFEST_NAME, moment, data=manifest.to_bytes())
            for item in pending:
                _add(tar, item.name, moment, data=item.data, path=item.path)
        writer.close()
        raw.flush()
        os.fsync(raw.fileno())


def _add(tar: tarfile.TarFile, name: str, moment: float, *, data: bytes = b"", path: Path | None = None) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = int(moment)
    info.mode = 0o600
    if path is None:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        return
    info.size = path.stat().st_size
    with path.open("rb") as stream:
        tar.addfile(info, stream)

