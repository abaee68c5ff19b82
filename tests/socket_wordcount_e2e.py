#!/usr/bin/env python3
"""End-to-end test of the SocketWordCount example.

A Python TCP server on a free loopback port serves a known, generated text (in
chunks of random sizes, so lines and words straddle TCP segments) to every
connection and closes it. SocketWordCount at -p 2 must end when the peer
closes, connect exactly once, and its final counts must equal a word count
computed here independently. A second case points it at a port where nothing
listens: it must fail with one "Error: ... cannot connect ... 127.0.0.1:P" line
and exit code 1.

Usage: socket_wordcount_e2e.py --eddy BIN --examples LIB
"""

import argparse
import os
import random
import shutil
import socket
import sys
import tempfile
import threading

import e2e_support as e2e
import wordcount_e2e as wc

TEXT_BYTES = 4 * 1024 * 1024


class TextServer:
    """Serves `data` to every client that connects, then closes the connection."""

    def __init__(self, data):
        self.data = data
        self.connections = 0
        self.errors = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            rng = random.Random(self.connections)
            try:
                conn.settimeout(None)
                pos = 0
                while pos < len(self.data):
                    n = rng.choice((1, 7, 100, 1500, 4096, 65536, 300000))
                    conn.sendall(self.data[pos:pos + n])
                    pos += n
            except OSError as e:
                self.errors.append("sending to the client failed: %s" % e)
            finally:
                conn.close()

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=10)
        self.sock.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--eddy", required=True)
    parser.add_argument("--examples", required=True)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="eddy-socket-wordcount-e2e-")
    failures = []
    try:
        data = wc.generate_text(4242, TEXT_BYTES)
        expected = wc.reference_counts([data])

        # --- A server that serves the text and closes ---
        server = TextServer(data)
        out_dir = os.path.join(tmp, "out")
        try:
            result = e2e.run([args.eddy, "run", "--target", "local", "-p", "2", "-c",
                              "SocketWordCount", args.examples, "--hostname", "127.0.0.1",
                              "--port", str(server.port), "--output", out_dir],
                             cwd=tmp, timeout=300)
        finally:
            server.stop()
        problems = []
        if result.returncode != 0:
            problems.append("exit code %d" % result.returncode)
        else:
            if "Job Runtime:" not in result.stdout:
                problems.append("no 'Job Runtime:' line on stdout")
            if server.connections != 1:
                problems.append("the job connected %d times, expected once" % server.connections)
            problems += server.errors
            problems += wc.check_output(out_dir, 2, expected)
        print("%-32s %s" % ("served text, -p 2", "ok" if not problems else "FAILED"))
        for p in problems:
            print("    " + p)
        if problems:
            print("    " + result.describe().replace("\n", "\n    "))
            failures.append("served text")

        # --- Nothing listening: a port that is bound but not listening ---
        closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
            result = e2e.run([args.eddy, "run", "--target", "local", "-p", "2", "-c",
                              "SocketWordCount", args.examples, "--hostname", "127.0.0.1",
                              "--port", str(port), "--output", os.path.join(tmp, "out2")],
                             cwd=tmp, timeout=120)
        finally:
            closed.close()
        problems = e2e.error_problems(result, ["cannot connect", "127.0.0.1:%d" % port])
        print("%-32s %s" % ("nothing listening", "ok" if not problems else "FAILED"))
        if problems:
            for p in problems:
                print("    " + p)
            print("    " + result.describe().replace("\n", "\n    "))
            failures.append("nothing listening")
        else:
            print("    " + result.stderr.splitlines()[0])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print("SocketWordCount matches the reference count")
    return 0


if __name__ == "__main__":
    sys.exit(main())
