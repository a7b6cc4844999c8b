"""A throw-away PostgreSQL server for the tests: ``initdb`` in a temporary directory, ``pg_ctl`` on a free
loopback port, one database, stopped and deleted at the end of the session.

Uses Debian's server binaries (``/usr/lib/postgresql/<version>/bin``, installed by
``scripts/ensure-postgresql.sh`` when the set-up runs as root). PostgreSQL refuses to run as root, so
as root the server runs as the ``postgres`` system user the Debian package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 120
"""Upper bound for ``pg_ctl -w`` (a loaded machine may need long; the wait ends as soon as it is up)."""


class Unavailable(Exception):
    """No PostgreSQL server can be started here (the message says why)."""


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not found:
        raise Unavailable("PostgreSQL server binaries not found (run scripts/ensure-postgresql.sh as root, "
                          "or set MICROGRID_TEST_PG_URL)")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgServer:
    root: Path
    port: int
    bin_dir: Path
    run_as: str | None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://microgrid@127.0.0.1:{self.port}/microgrid_test"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=START_TIMEOUT_S + 60)

    @classmethod
    def start(cls) -> PgServer:
        bin_dir = _bin_dir()
        run_as = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable("running as root and no 'postgres' user to run the server as") from None
            if not shutil.which("runuser"):
                raise Unavailable("running as root and 'runuser' is missing")
            run_as = "postgres"
        root = Path(tempfile.mkdtemp(prefix="microgrid-pg-"))
        if run_as:
            shutil.chown(root, user=run_as)
        server = cls(root, _free_port(), bin_dir, run_as)
        data = root / "data"
        res = server._run("initdb", "-D", str(data), "-U", "microgrid", "--auth=trust", "-E", "UTF8",
                          "--no-instructions")
        if res.returncode:
            server.cleanup()
            raise Unavailable(f"initdb failed: {res.stderr.strip()[-300:]}")
        opts = f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        res = server._run("pg_ctl", "-D", str(data), "-l", str(root / "server.log"), "-o", opts, "-w",
                          "-t", str(START_TIMEOUT_S), "start")
        if res.returncode:
            log = (root / "server.log").read_text(errors="replace")[-300:] if (root / "server.log").exists() else ""
            server.cleanup()
            raise Unavailable(f"pg_ctl start failed: {res.stderr.strip()[-200:]} {log}")
        res = server._run("createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", "microgrid", "microgrid_test")
        if res.returncode:
            server.stop()
            raise Unavailable(f"createdb failed: {res.stderr.strip()[-300:]}")
        return server

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        self.cleanup()

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
