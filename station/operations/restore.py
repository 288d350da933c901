"""``station restore``: a backup archive back into an empty data directory and an empty database.

Nothing is written until the whole archive has been decrypted and checked (every chunk
authenticates, every member matches the manifest's SHA-256) and the target has been found
empty; then the files are written with the station's own modes (key files 0600, the data and
CA directories 0700), the database is put back, and the chain head file is written as it was
at the backup. The recipes go to ``recipes/`` in the data directory and ``station.toml`` is made
to name them there.

The chain head the station recorded (a head file that survived, or one given with ``--head``:
a copy of the head file, or an export's manifest, which carries the head it was made at) is
compared with the archive's: a backup that ends before it is OLDER, and is refused unless the
person says to restore it anyway; one whose chain differs at that entry is another history.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from station.config.paths import StationPaths
from station.config.settings import parse_settings, render_settings
from station.domain.chain import ChainHead
from station.domain.errors import BackupError, StationError
from station.operations.backup_archive import (
    BackupTokenKey,
    Content,
    Manifest,
    Member,
    MemberKind,
    read_archive,
    safe_member_name,
)
from station.security.backup_crypto import (
    PKCS11,
    ArchiveHeader,
    read_header,
    unlock_with_passphrase,
    unlock_with_token,
)
from station.security.pkcs11.wrap import DataKey
from station.store import open_database, sqlite_file
from station.store.backup import backend_of, check_restore_target, restore_database, schema_revision_known
from station.store.chain_head import HeadFile
from station.store.database import head_file_path


@dataclass(frozen=True)
class RecordedHead:
    """A chain head the station recorded before the restore, and where it was found."""

    origin: str
    head: ChainHead


@dataclass(frozen=True)
class HeadComparison:
    origin: str
    recorded: int  # the recorded head's sequence
    archived: int  # the archive's chain head's sequence (0: an empty chain)
    older: bool
    problem: str | None  # None: the archive's chain extends the recorded head


@dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    database: str
    written: tuple[Path, ...]
    comparisons: tuple[HeadComparison, ...]
    recipes: tuple[tuple[str, Path], ...]  # (where the recipe was, where it is now)

    @property
    def older(self) -> bool:
        return any(comparison.older for comparison in self.comparisons)


def archive_header(path: Path) -> ArchiveHeader:
    """The archive's clear header: how its key is protected (to ask for the right secret)."""
    try:
        with path.open("rb") as stream:
            return read_header(stream, str(path))
    except OSError as error:
        raise BackupError(f"cannot read {path}: {error.strerror or error}") from None


def unlock_archive(
    header: ArchiveHeader, *, passphrase: str | None = None, token: BackupTokenKey | None = None
) -> DataKey:
    """The archive's key, from the passphrase or the token key (whichever its header asks for)."""
    if header.protection == PKCS11:
        if token is None:
            raise BackupError(f"this archive is protected by {header.describe()}: open that token")
        return unlock_with_token(header, token.wrapper)
    if passphrase is None:
        raise BackupError("this archive is protected by a passphrase: give it")
    return unlock_with_passphrase(header, passphrase)


def check_target(paths: StationPaths) -> None:
    """BackupError unless the data directory is empty (or absent) and the database too. Writes nothing."""
    data_dir = paths.data_dir
    if data_dir.exists() and not data_dir.is_dir():
        raise BackupError(f"{data_dir} is not a directory; nothing was written")
    if data_dir.is_dir():
        present = sorted(entry.name for entry in data_dir.iterdir())
        if present:
            shown = ", ".join(present[:5]) + (", ..." if len(present) > 5 else "")
            raise BackupError(f"the data directory {data_dir} is not empty ({shown}): a backup is restored only into "
                              "an empty one, so that nothing there is overwritten; nothing was written")
    check_restore_target(paths.db_url)


def recorded_heads(paths: StationPaths, head_files: Sequence[Path]) -> list[RecordedHead]:
    """The heads the station recorded: the head file where the restored database's will be (it
    survives when the database lives outside the data directory), and each file given."""
    found: list[RecordedHead] = []
    target = head_file_path(paths.db_url, paths.data_dir)
    if target.exists():
        found.append(read_recorded_head(target))
    found.extend(read_recorded_head(path) for path in head_files)
    return found


def read_recorded_head(path: Path) -> RecordedHead:
    """A chain head file, or an export's manifest (``chain_head``); BackupError if neither."""
    try:
        document = json.loads(path.read_bytes().decode("utf-8"))
        if isinstance(document, dict) and isinstance(document.get("chain_head"), dict):
            return RecordedHead(f"the export manifest {path}", ChainHead.from_document(document["chain_head"]))
        if isinstance(document, dict) and document.get("format") == "station-chain-head":
            return RecordedHead(f"the head file {path}", ChainHead.from_document(document))
    except OSError as error:
        raise BackupError(f"cannot read {path}: {error.strerror or error}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise BackupError(f"{path} is not a readable chain head ({error})") from None
    raise BackupError(f"{path} is neither a chain head file nor an export manifest with a chain head")


def compare_heads(manifest: Manifest, recorded: Sequence[RecordedHead]) -> list[HeadComparison]:
    """How the archive's chain head stands to each recorded head, as far as the manifest tells."""
    archived = manifest.chain_head
    last = 0 if archived is None else archived.sequence
    comparisons = []
    for item in recorded:
        head = item.head
        if head.sequence > last:
            comparisons.append(HeadComparison(item.origin, head.sequence, last, True, (
                f"this backup is OLDER than the chain head that {item.origin} records: the backup ends at chain entry "
                f"{last}, {item.origin} records entry {head.sequence} (made {head.recorded_at:%Y-%m-%d %H:%M:%S} "
                f"UTC): {head.sequence - last} newer entries are not in it")))  # fmt: skip
        elif head.sequence == last and archived is not None and archived.entry_hash != head.entry_hash:
            comparisons.append(HeadComparison(item.origin, head.sequence, last, False, (
                f"the backup's chain entry {last} is not the one {item.origin} records: another history")))
        else:
            comparisons.append(HeadComparison(item.origin, head.sequence, last, False, None))
    return comparisons


def restore_station(
    archive: Path,
    header: ArchiveHeader,
    key: DataKey,
    paths: StationPaths,
    *,
    recorded: Sequence[RecordedHead] = (),
    accept_older: bool = False,
) -> RestoreResult:
    """Check the whole archive, then restore it into ``paths`` (see the module's docstring)."""
    check_target(paths)
    manifest = read_archive(archive, header, key)
    if not schema_revision_known(manifest.schema_revision):
        raise BackupError(f"the backup's database has schema revision {manifest.schema_revision}, which this station "
                          "does not know (a newer station made it): restore it with that version; nothing was written")
    backend = backend_of(paths.db_url)
    if manifest.backend != backend:
        raise BackupError(f"the backup holds a {manifest.backend} database, the target is {backend}: restore into "
                          "the same kind of database; nothing was written")
    comparisons = compare_heads(manifest, recorded)
    refused = [item.problem for item in comparisons if item.problem is not None]
    if refused and not accept_older:
        raise BackupError("; ".join(refused) + ". Nothing was written; to restore it all the same, accept the "
                          "older backup (station restore --accept-older)")
    writer = _Writer(paths)
    try:
        read_archive(archive, header, key, writer.take)
        writer.finish(manifest)
    except BaseException:
        writer.undo()
        raise
    comparisons = _compare_after(paths, comparisons, recorded)
    return RestoreResult(manifest, writer.database, tuple(writer.written), tuple(comparisons),
                         tuple(writer.recipes))  # fmt: skip


def _compare_after(
    paths: StationPaths, comparisons: list[HeadComparison], recorded: Sequence[RecordedHead]
) -> list[HeadComparison]:
    """Whether the restored chain holds each recorded head the archive's head went past."""
    later = [(index, item) for index, item in enumerate(recorded)
             if comparisons[index].problem is None and item.head.sequence < comparisons[index].archived]  # fmt: skip
    if not later:
        return comparisons
    database = open_database(paths.db_url, create_dirs=False)
    try:
        for index, item in later:
            if database.entry_hash_at(item.head.sequence) != item.head.entry_hash:
                comparisons[index] = replace(comparisons[index], problem=(
                    f"the restored chain's entry {item.head.sequence} is not the one {item.origin} records: "
                    "another history"))  # fmt: skip
    finally:
        database.dispose()
    return comparisons


class _Writer:
    """Writes the members of a checked archive where they belong; ``undo`` takes it all back."""

    def __init__(self, paths: StationPaths) -> None:
        self.paths = paths
        self.written: list[Path] = []
        self.recipes: list[tuple[str, Path]] = []
        self.database = ""
        self._created_data_dir = not paths.data_dir.exists()
        self._staging = paths.data_dir / f".restore-{os.getpid()}"
        self._database_copy: Path | None = None
        self._head: bytes | None = None
        self._settings: bytes | None = None
        self._database_file: Path | None = None

    def take(self, member: Member, content: Content) -> None:
        name = safe_member_name(member.name)
        if member.kind is MemberKind.DATABASE:
            self._database_copy = self._staging / name.name
            self._write(self._database_copy, content, 0o600, keep=False)
        elif member.kind is MemberKind.CHAIN_HEAD:
            self._head = content.read()
        elif member.kind is MemberKind.SETTINGS:
            self._settings = content.read()
        elif name.parts[0] == "data" and len(name.parts) > 1:
            mode = 0o600 if member.kind is MemberKind.SECRET else 0o644
            self._write(self.paths.data_dir.joinpath(*name.parts[1:]), content, mode)
        elif name.parts[0] == "recipes" and member.kind is MemberKind.RECIPE:
            self._write(self.paths.data_dir.joinpath(*name.parts), content, 0o644)
        else:
            raise BackupError(f"the archive's member {member.name} has no place in a station")

    def finish(self, manifest: Manifest) -> None:
        if self._database_copy is None:
            raise BackupError("the archive holds no database")
        target = head_file_path(self.paths.db_url, self.paths.data_dir)
        restore_database(manifest.backend, self._database_copy, self.paths.db_url)
        self._database_file = sqlite_file(self.paths.db_url)
        if self._database_file is not None:
            self.written.append(self._database_file)
        shutil.rmtree(self._staging, ignore_errors=True)
        database = open_database(self.paths.db_url, create_dirs=False)
        self.database = database.url
        database.dispose()
        if self._head is not None:
            head = ChainHead.from_document(json.loads(self._head.decode("utf-8")))
            if not target.exists():
                self.written.append(target)
            HeadFile(target, self.database).advance(head)  # never back over a newer head already there
        if self._settings is not None:
            path = self.paths.data_dir / "station.toml"
            self._write(path, io.BytesIO(self._settings_text(manifest)), 0o644)

    def _settings_text(self, manifest: Manifest) -> bytes:
        """The archived settings, naming each restored recipe where it is now (relative to the data
        directory); unchanged when there is none."""
        assert self._settings is not None
        moved = {entry.original: Path(entry.member) for entry in manifest.recipes if entry.member is not None}
        if not moved:
            return self._settings
        base = Path(manifest.settings_dir) if manifest.settings_dir else self.paths.data_dir
        try:
            settings = parse_settings(tomllib.loads(self._settings.decode("utf-8")), "the backup's station.toml",
                                      base_dir=base)  # fmt: skip
        except (StationError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise BackupError(f"the backup's station.toml cannot be read: {error}") from None

        def now(path: Path | None) -> Path | None:
            if path is None or str(path) not in moved:
                return path
            self.recipes.append((str(path), self.paths.data_dir / moved[str(path)]))
            return moved[str(path)]

        settings = replace(settings, recipe=now(settings.recipe),
                           slots=tuple(replace(slot, recipe=now(slot.recipe)) for slot in settings.slots))  # fmt: skip
        return render_settings(settings).encode("utf-8")

    def _write(self, path: Path, content: Content, mode: int, *, keep: bool = True) -> None:
        """Write a new file (never over one); ``keep``: one of the station's files, not staging."""
        self._directory(path.parent)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        if keep:
            self.written.append(path)
        with os.fdopen(descriptor, "wb") as written:
            while data := content.read(1 << 20):
                written.write(data)
            written.flush()
            os.fsync(written.fileno())
        os.chmod(path, mode)  # whatever the umask

    def _directory(self, directory: Path) -> None:
        if directory.is_dir():
            return
        self._directory(directory.parent)
        private = directory == self.paths.data_dir or directory == self.paths.ca_dir or directory == self._staging
        directory.mkdir(mode=0o700 if private else 0o755)
        os.chmod(directory, 0o700 if private else 0o755)

    def undo(self) -> None:
        """Remove what this restore wrote: the data directory was empty, the database absent."""
        shutil.rmtree(self._staging, ignore_errors=True)
        for path in reversed(self.written):
            path.unlink(missing_ok=True)
        if self._database_file is not None:
            for suffix in ("-wal", "-shm", "-journal"):
                self._database_file.with_name(self._database_file.name + suffix).unlink(missing_ok=True)
        data_dir = self.paths.data_dir
        if data_dir.is_dir():
            for entry in data_dir.iterdir():
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            if self._created_data_dir:
                data_dir.rmdir()

