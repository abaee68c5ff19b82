"""A throw-away PostgreSQL server for end-to-end tests of the PostgreSQL connectors.

    with PostgresServer() as pg:
        pg.query("CREATE TABLE t (k text PRIMARY KEY, v bigint)")
        ... run a job with --postgres-port pg.port ...
        rows = pg.query("SELECT k, v FROM t ORDER BY k")   # [["a", "1"], ...]

The server is initialised in a temporary directory and listens on a free
loopback port with trust authentication for the user "eddy" and prepared
transactions enabled; leaving the block stops it (immediate mode) and deletes
the directory, also when the block raises. initdb and postgres refuse to run as
root, so as root they run as the "postgres" user through runuser, with the
directory handed to that user.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

USER = "eddy"


def _bin_dir():
    def version(path):
        name = path.split(os.sep)[-2]
        try:
            return tuple(int(part) for part in name.split("."))
        except ValueError:
            return ()

    candidates = [os.path.dirname(p) for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    if not candidates:
        raise RuntimeError("no PostgreSQL server under /usr/lib/postgresql/*/bin")
    return max(candidates, key=version)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """Context manager; .port, .dsn and .query(sql) while inside."""

    def __init__(self):
        self.port = None
        self.dir = None
        self._bin = _bin_dir()
        self._started = False

    @property
    def dsn(self):
        return f"host=127.0.0.1 port={self.port} dbname=postgres user={USER}"

    def _run(self, argv, what):
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{what} failed for the PostgreSQL test server in {self.dir}:\n{result.stdout}")

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="eddy-pg-")
        try:
            if os.geteuid() == 0:
                user = pwd.getpwnam("postgres")
                os.chown(self.dir, user.pw_uid, user.pw_gid)
            self.port = _free_port()
            data = os.path.join(self.dir, "data")
            self._run([os.path.join(self._bin, "initdb"), "-D", data, "-U", USER, "--auth=trust", "-E", "UTF8",
                       "--no-sync", "-N"], "initdb")
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.dir} "
                       "-c max_prepared_transactions=64 -c fsync=off")
            self._run([os.path.join(self._bin, "pg_ctl"), "-D", data, "-l", os.path.join(self.dir, "server.log"),
                       "-w", "-t", "30", "-o", options, "start"], "pg_ctl start")
            self._started = True
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        return self

    def __exit__(self, *exc):
        try:
            if self._started:
                self._run([os.path.join(self._bin, "pg_ctl"), "-D", os.path.join(self.dir, "data"), "-m",
                           "immediate", "-w", "stop"], "pg_ctl stop")
        finally:
            self._started = False
            shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def query(self, sql):
        """Runs sql with psql; returns the rows as lists of strings (NULL as None).

        Values must not contain newlines; statements without rows return [].
        """
        null = "\x01NULL\x01"
        result = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-F", "\x1f", "-P", f"null={null}", "-v", "ON_ERROR_STOP=1",
             "-d", self.dsn, "-c", sql],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"psql on port {self.port}: {sql!r} failed: {result.stderr.strip()}")
        lines = result.stdout.split("\n")
        if lines[-1] == "":
            lines.pop()  # the newline after the last row, or no output at all
        return [[None if field == null else field for field in line.split("\x1f")] for line in lines]


if __name__ == "__main__":
    with PostgresServer() as pg:
        pg.query("CREATE TABLE t (k text PRIMARY KEY, v bigint)")
        pg.query("INSERT INTO t VALUES ('a', 1), ('b', NULL)")
        assert pg.query("SELECT k, v FROM t ORDER BY k") == [["a", "1"], ["b", None]], pg.query("SELECT * FROM t")
        assert pg.query("SHOW max_prepared_transactions") == [["64"]]
        print(f"PostgresServer works (port {pg.port})")
