"""A throwaway PostgreSQL server for the sweep tests: its own cluster in a temp
folder (initdb), listening on 127.0.0.1 on a free port, one fresh database,
stopped and deleted afterwards.

PostgreSQL refuses to run as root, so as root (CI) the server runs as the
``postgres`` user that Debian's package creates, in a folder it owns.
``make postgres`` installs the package when its programs are missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid


def find_program(name: str) -> str | None:
    """``name`` on PATH, else in Debian's /usr/lib/postgresql/VERSION/bin (newest)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    candidates.sort(
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0
    )
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``Server().start()`` returns a ``postgresql://`` URL; ``stop()`` ends it."""

    def __init__(self):
        self.initdb, self.pg_ctl = find_program("initdb"), find_program("pg_ctl")
        self.folder = None

    def available(self) -> str | None:
        """None when the server can start here, else the reason it cannot."""
        if not (self.initdb and self.pg_ctl):
            return (
                "PostgreSQL's initdb/pg_ctl are not installed "
                "(make postgres installs Debian's postgresql package)"
            )
        if os.geteuid() == 0:
            try:
                import pwd

                pwd.getpwnam("postgres")
            except KeyError:
                return (
                    "running as root, and there is no postgres user to run the server"
                )
        return None

    def _run(self, *args):
        command = list(args)
        if os.geteuid() == 0:  # postgres refuses root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(
            command, check=True, capture_output=True, text=True, cwd=self.folder
        )

    def start(self) -> str:
        self.folder = tempfile.mkdtemp(prefix="glassnet-pg-")
        if os.geteuid() == 0:
            import pwd

            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        data = self.data = os.path.join(self.folder, "data")
        self.port = _free_port()
        self._run(
            self.initdb,
            "-D",
            data,
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.folder} "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            self.pg_ctl,
            "-D",
            data,
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "-l",
            os.path.join(self.folder, "server.log"),
            "start",
        )
        import psycopg

        name = f"glassnet_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
            autocommit=True,
        ) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.folder is None:
            return
        try:
            if os.path.exists(os.path.join(self.data, "postmaster.pid")):
                self._run(self.pg_ctl, "-D", self.data, "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
