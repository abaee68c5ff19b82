"""A throw-away redis-server for end-to-end tests.

    from redis_server import RedisServer

    with RedisServer() as redis:
        run_job(f"--redis-port {redis.port}")
        assert redis.get("sum:key1") == "42"

Each RedisServer listens on a free loopback port, keeps its files in a
temporary directory of its own, writes nothing to disk (no RDB, no AOF) and is
killed and removed on exit, also when the test fails.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """Context manager: a running redis-server; .port, .get(key), .cli(*args)."""

    def __init__(self, extra_args=(), start_timeout=10.0,
                 server="redis-server", cli="redis-cli"):
        self.extra_args = list(extra_args)
        self.start_timeout = start_timeout
        self.server = server
        self.cli_binary = cli
        self.host = "127.0.0.1"
        self.port = None
        self.dir = None
        self._process = None

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="eddy_redis_")
        try:
            # The port may be taken between choosing and binding it: retry.
            for _ in range(5):
                if self._start():
                    return self
            raise RuntimeError("redis-server did not start; log: "
                               + os.path.join(self.dir, "redis.log") + "\n" + self._log_tail())
        except BaseException:
            self.stop()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def _start(self):
        self.port = _free_port()
        log = os.path.join(self.dir, "redis.log")
        self._process = subprocess.Popen(
            [self.server, "--port", str(self.port), "--bind", self.host,
             "--save", "", "--appendonly", "no", "--dir", self.dir,
             "--logfile", log] + self.extra_args,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                return False
            ping = subprocess.run(
                [self.cli_binary, "-h", self.host, "-p", str(self.port), "PING"],
                capture_output=True, text=True)
            # A server with --requirepass answers NOAUTH: running all the same.
            if ping.returncode == 0 and ("PONG" in ping.stdout or "NOAUTH" in ping.stdout):
                return True
            time.sleep(0.05)
        self.stop()
        return False

    def _log_tail(self):
        try:
            with open(os.path.join(self.dir, "redis.log")) as f:
                return "".join(f.readlines()[-20:])
        except OSError:
            return ""

    def stop(self):
        """Kills the server now (a crash, as far as clients can tell)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def cli(self, *args):
        """Runs one redis-cli command; returns its raw output without the final newline.

        Raises RuntimeError naming the command, the server and Redis' answer
        when the command fails (an error reply such as WRONGTYPE included).
        """
        result = subprocess.run(
            [self.cli_binary, "-h", self.host, "-p", str(self.port), "--raw", "-e"]
            + [str(a) for a in args],
            capture_output=True, text=True)
        if result.returncode != 0:
            answer = (result.stdout + result.stderr).strip()
            raise RuntimeError(f"redis-cli {' '.join(map(str, args))} at {self.host}:{self.port}: {answer}")
        return result.stdout[:-1] if result.stdout.endswith("\n") else result.stdout

    def get(self, key):
        """GET key: the value as a string, or None if the key does not exist."""
        if self.cli("EXISTS", key) != "1":
            return None
        return self.cli("GET", key)
