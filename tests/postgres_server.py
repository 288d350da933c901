"""A throwaway PostgreSQL server for one test session, so the store's PostgreSQL claims are tested
on every run without anyone setting up a database.

The server listens only on 127.0.0.1 on a free port, keeps its socket in its own directory, and
runs without fsync (nothing in it must survive). PostgreSQL refuses to run as root, so when the
tests run as root (CI does) the server runs as ``nobody``, or as a dedicated system user created
for it if ``nobody`` does not exist. A watchdog process stops the server and removes its
directory should the test process die without tearing down (SIGKILL, a hard timeout).

Run as a script only by :func:`throwaway_server`, as that watchdog.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

POSTGRES_URL_VARIABLE = "STATION_TEST_POSTGRES_URL"
"""When set, the tests use this database (wiping its ``public`` schema) instead of their own server."""

ROLE = "station"
DATABASE = "station_test"
SUPERUSER = "postgres"
DEDICATED_USER = "station-test-pg"
DEBIAN_BINARY_GLOB = "/usr/lib/postgresql/*/bin"
RHEL_BINARY_GLOB = "/usr/pgsql-*/bin"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30
START_ATTEMPTS = 3

SERVER_SETTINGS = """
# Written by tests/postgres_server.py: a throwaway server for one test session.
listen_addresses = '127.0.0.1'
unix_socket_directories = '{socket_directory}'
unix_socket_permissions = 0700
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
"""


class PostgresStartError(RuntimeError):
    """The binaries are there but no server came up: an environment problem worth failing for."""


@dataclass(frozen=True)
class ServerUser:
    """The account the server runs as; ``None`` ids mean the current (unprivileged) user."""

    uid: int | None
    gid: int | None
    name: str


@dataclass(frozen=True)
class RunningServer:
    url: str
    port: int
    directory: Path
    binaries: Path | None = None
    user: ServerUser | None = None
    superuser_url: str | None = None  # ``postgres``'s, for tests that create roles and databases

    def stop_immediately(self) -> None:
        """``pg_ctl stop -m immediate``: the server goes as in a power cut (clients see errors)."""
        assert self.binaries is not None and self.user is not None
        _run_as(self.user, [str(self.binaries / "pg_ctl"), "stop", "-D", str(self.directory / "data"),
                            "-m", "immediate", "-w", "-t", str(STOP_TIMEOUT_SECONDS)], self.directory)

    def start_again(self) -> None:
        """Start the stopped server on its port (crash recovery runs first, as after a power cut)."""
        assert self.binaries is not None and self.user is not None
        _run_as(self.user, [str(self.binaries / "pg_ctl"), "start", "-D", str(self.directory / "data"),
                            "-l", str(self.directory / "server.log"), "-w", "-t", str(START_TIMEOUT_SECONDS),
                            "-o", f"-p {self.port}"], self.directory)


def find_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl: PATH first, then Debian's and RHEL's versioned
    directories (newest first), which are not on PATH."""
    candidates: list[Path] = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    versioned = [Path(found) for pattern in (DEBIAN_BINARY_GLOB, RHEL_BINARY_GLOB)
                 for found in _glob(pattern)]
    candidates.extend(sorted(versioned, key=_version_key, reverse=True))
    for directory in candidates:
        if all(os.access(directory / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def unavailable_reason() -> str | None:
    """Why no throwaway server can be started here, as a skip reason; ``None`` when it can."""
    if find_binaries() is None:
        return (f"PostgreSQL binaries (initdb, pg_ctl) not found on PATH nor in {DEBIAN_BINARY_GLOB}: "
                f"install the Debian package postgresql, or set {POSTGRES_URL_VARIABLE}")
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed: pip install -e '.[test]'"
    return None


@contextlib.contextmanager
def throwaway_server() -> Iterator[RunningServer]:
    """Start a fresh server with a ``station`` role owning a ``station_test`` database; always
    stop it and remove its directory on the way out."""
    binaries = find_binaries()
    if binaries is None:
        raise PostgresStartError("PostgreSQL binaries not found")
    user = _server_user()
    directory = Path(tempfile.mkdtemp(prefix="station-test-pg-", dir=_temporary_root(user)))
    watchdog: subprocess.Popen[bytes] | None = None
    try:
        if user.uid is not None and user.gid is not None:
            os.chown(directory, user.uid, user.gid)
        watchdog = subprocess.Popen(
            [sys.executable, __file__, str(directory), str(binaries), user.name],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, cwd=directory,
        )
        superuser_password = secrets.token_hex(16)
        _initdb(binaries, directory, user, superuser_password)
        port = _start(binaries, directory, user)
        role_password = secrets.token_hex(16)
        _create_role_and_database(port, superuser_password, role_password)
        yield RunningServer(
            url=f"postgresql+psycopg://{ROLE}:{role_password}@127.0.0.1:{port}/{DATABASE}",
            port=port, directory=directory, binaries=binaries, user=user,
            superuser_url=f"postgresql+psycopg://{SUPERUSER}:{superuser_password}@127.0.0.1:{port}/postgres",
        )
    finally:
        stop_and_remove(binaries, directory, user)
        if watchdog is not None:
            _release_watchdog(watchdog)


def stop_and_remove(binaries: Path, directory: Path, user: ServerUser) -> None:
    """Stop the server if it runs (fast, then immediate, then SIGKILL to its postmaster) and
    remove its directory; safe to call twice."""
    data = directory / "data"
    if (data / "postmaster.pid").exists():
        for mode in ("fast", "immediate"):
            stopped = _run_as(user, [str(binaries / "pg_ctl"), "stop", "-D", str(data), "-m", mode, "-w",
                                     "-t", str(STOP_TIMEOUT_SECONDS)], directory, check=False)
            if stopped.returncode == 0:
                break
        else:
            _kill_postmaster(data)
    shutil.rmtree(directory, ignore_errors=True)


def _initdb(binaries: Path, directory: Path, user: ServerUser, superuser_password: str) -> None:
    password_file = directory / "superuser-password"
    password_file.write_text(superuser_password + "\n")
    password_file.chmod(0o600)
    if user.uid is not None and user.gid is not None:
        os.chown(password_file, user.uid, user.gid)
    try:
        _run_as(user, [
            str(binaries / "initdb"), "--pgdata", str(directory / "data"), "--username", SUPERUSER,
            "--pwfile", str(password_file), "--auth", "scram-sha-256", "--encoding", "UTF8", "--no-locale",
            "--no-sync",
        ], directory)
    finally:
        password_file.unlink(missing_ok=True)
    with (directory / "data" / "postgresql.conf").open("a") as settings:
        settings.write(SERVER_SETTINGS.format(socket_directory=directory))


def _start(binaries: Path, directory: Path, user: ServerUser) -> int:
    """Start on a free port; another process may take the port between our probe and the bind,
    so a failed start is retried on a new one."""
    log = directory / "server.log"
    for _ in range(START_ATTEMPTS):
        port = _free_port()
        started = _run_as(user, [
            str(binaries / "pg_ctl"), "start", "-D", str(directory / "data"), "-l", str(log), "-w",
            "-t", str(START_TIMEOUT_SECONDS), "-o", f"-p {port}",
        ], directory, check=False)
        if started.returncode == 0:
            return port
        if (directory / "data" / "postmaster.pid").exists():
            _kill_postmaster(directory / "data")
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no server log)"
    raise PostgresStartError(f"pg_ctl start failed {START_ATTEMPTS} times:\n{started.stdout}{started.stderr}\n"
                             f"server log:\n{tail}")


def _create_role_and_database(port: int, superuser_password: str, role_password: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host="127.0.0.1", port=port, user=SUPERUSER, password=superuser_password,
                         dbname="postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(ROLE), sql.Literal(role_password)))
        connection.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(DATABASE), sql.Identifier(ROLE)))


def _server_user() -> ServerUser:
    """Ourselves unless root; as root ``nobody``, or a dedicated system user when there is none."""
    if os.geteuid() != 0:
        return ServerUser(uid=None, gid=None, name=pwd.getpwuid(os.geteuid()).pw_name)
    for name in ("nobody", DEDICATED_USER):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return ServerUser(uid=entry.pw_uid, gid=entry.pw_gid, name=name)
    nologin = shutil.which("nologin") or "/usr/sbin/nologin"
    subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                    "--shell", nologin, DEDICATED_USER],
                   stdin=subprocess.DEVNULL, capture_output=True, text=True, check=True)
    entry = pwd.getpwnam(DEDICATED_USER)
    return ServerUser(uid=entry.pw_uid, gid=entry.pw_gid, name=DEDICATED_USER)


def _temporary_root(user: ServerUser) -> str | None:
    """Where the server's directory goes: for another user, a directory it can reach (TMPDIR
    may be private to root, as /tmp/pytest-of-root is); otherwise the usual temporary root."""
    if user.uid is not None and os.path.isdir("/tmp"):
        return "/tmp"
    return None


def _run_as(user: ServerUser, command: list[str], directory: Path, *,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool as the server's user, with no PG* variables of ours leaking in."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    environment.update(LC_ALL="C", LANG="C", HOME=str(directory))
    completed = subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=directory, env=environment,
        user=user.uid, group=user.gid, extra_groups=[] if user.uid is not None else None,
    )
    if check and completed.returncode != 0:
        raise PostgresStartError(f"{' '.join(command)} failed ({completed.returncode}):\n"
                                 f"{completed.stdout}{completed.stderr}")
    return completed


def _kill_postmaster(data: Path) -> None:
    """The last resort when pg_ctl cannot stop it: the postmaster's own pid, from its pid file."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)


def _release_watchdog(watchdog: subprocess.Popen[bytes]) -> None:
    """Tell the watchdog the server is gone (EOF on its stdin) and reap it."""
    if watchdog.stdin is not None:
        with contextlib.suppress(OSError):
            watchdog.stdin.close()
    try:
        watchdog.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        watchdog.kill()
        watchdog.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _glob(pattern: str) -> list[str]:
    return [found for found in glob.glob(pattern) if os.path.isdir(found)]


def _version_key(directory: Path) -> tuple[int, ...]:
    return tuple(int(number) for number in re.findall(r"\d+", str(directory)))


def _watch(directory: Path, binaries: Path, user_name: str) -> None:
    """Wait until the test process closes our stdin (it finished, or died), then clean up what
    it may have left behind."""
    sys.stdin.buffer.read()
    if not directory.exists():
        return
    user = ServerUser(uid=None, gid=None, name=user_name)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user_name)
        user = ServerUser(uid=entry.pw_uid, gid=entry.pw_gid, name=user_name)
    stop_and_remove(binaries, directory, user)


if __name__ == "__main__":
    _watch(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
