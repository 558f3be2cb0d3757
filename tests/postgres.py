"""A throwaway PostgreSQL server for tests and benches, from Debian's ``postgresql``.

``initdb`` into a temporary directory, ``postgres`` listening on 127.0.0.1 and a free
port (and a Unix socket inside the directory), stopped by its PID at the end. No
container engine, nothing left behind. ``initdb`` and ``postgres`` refuse to run as
root, so under root (CI) both run as Debian's ``postgres`` user, which exists once the
package is installed, in a directory that user owns.

Each test that needs a database gets its own (``create_database``): a fresh schema per
test, as each SQLite test gets its own file, for the price of one ``CREATE DATABASE``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

SUPERUSER = "tocsin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def binaries() -> Path | None:
    """The directory of ``initdb`` and ``postgres`` (Debian keeps them off ``PATH``)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PostgresServer:
    directory: Path
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    databases: list[str] = field(default_factory=list)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return self.url(name)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> None:
        """Stop the server by its PID (SIGTERM: smart shutdown; SIGINT: fast)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=timeout)

    def restart(self) -> None:
        """Stop (fast shutdown: connections are cut) and start again on the same port."""
        self.stop(signal.SIGINT)
        self.proc = _spawn(self.directory, self.port, self.log_path)
        _wait_accepting(self)

    def remove(self) -> None:
        self.stop(signal.SIGINT)
        shutil.rmtree(self.directory, ignore_errors=True)


def _as_postgres() -> dict[str, object]:
    """Popen arguments that drop root to the ``postgres`` user (nothing otherwise)."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam("postgres")
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _spawn(directory: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    bin_dir = binaries()
    assert bin_dir is not None
    log = log_path.open("ab")
    try:
        return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
            [str(bin_dir / "postgres"), "-D", str(directory / "data"),
             "-p", str(port), "-c", "listen_addresses=127.0.0.1",
             "-c", f"unix_socket_directories={directory}",
             "-c", "max_connections=200", "-c", "fsync=on", "-c", "synchronous_commit=on",
             "-c", "shared_buffers=64MB"],
            stdout=log, stderr=subprocess.STDOUT, **_as_postgres())
    finally:
        log.close()


def _wait_accepting(server: PostgresServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError("PostgreSQL exited at start:\n"
                               + server.log_path.read_text(errors="replace")[-2000:])
        try:
            with psycopg.connect(server.url(), connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def start_postgres(parent: Path | None = None) -> PostgresServer:
    """initdb and start a server; raises RuntimeError when PostgreSQL is not installed."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    directory = Path(tempfile.mkdtemp(prefix="tocsin-pg-", dir=parent))
    directory.chmod(0o755)
    extra = _as_postgres()
    if extra:
        os.chown(directory, int(extra["user"]), int(extra["group"]))  # type: ignore[call-overload]
    log_path = directory / "postgres.log"
    subprocess.run(  # type: ignore[call-overload]
        [str(bin_dir / "initdb"), "-D", str(directory / "data"), "-U", SUPERUSER,
         "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"],
        check=True, capture_output=True, **extra)
    port = free_port()
    server = PostgresServer(directory, port, _spawn(directory, port, log_path), log_path)
    try:
        _wait_accepting(server)
    except BaseException:
        server.remove()
        raise
    return server
