"""Helpers shared by Eddy's end-to-end test scripts (standard library only).

Runs the `eddy` CLI as a user would, checks that a failure is reported as one
clean error line, installs the distribution and builds a user's job project
against it with find_package(Eddy).
"""

import os
import shutil
import signal
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request

# Crash signatures that must never appear on stderr.
CRASH_MARKERS = ("core dumped", "Segmentation fault", "terminate called", "Aborted",
                 "AddressSanitizer", "runtime error:", "stack smashing")


class Result:
    def __init__(self, cmd, returncode, stdout, stderr):
        self.cmd = cmd
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def describe(self):
        return "command: %s\nexit code: %s\nstdout (tail): %s\nstderr: %s" % (
            " ".join(self.cmd), self.returncode, self.stdout[-1500:], self.stderr[-3000:])


def hermetic_env():
    """The environment for the CLI: no inherited EDDY_CONF_DIR, so it reads the
    configuration beside its own bin/ directory (or none)."""
    env = dict(os.environ)
    env.pop("EDDY_CONF_DIR", None)
    return env


def run(cmd, timeout=120, cwd=None, env=None):
    proc = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, cwd=cwd, env=env if env is not None else hermetic_env())
    return Result([str(c) for c in cmd], proc.returncode,
                  proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def signal_name(returncode):
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return "signal %d" % -returncode


def error_problems(result, must_contain=(), expected_code=1, usage_error=False):
    """Problems with how a failing command reported its failure (empty if fine).

    A failure must exit with `expected_code` (a positive code, never a signal),
    show no crash marker, and put exactly one line on stderr: "Error: ...",
    containing every string of `must_contain`. A usage error (a malformed
    option) may follow its error line with a blank line and the usage text.
    """
    problems = []
    if result.returncode < 0:
        problems.append("killed by %s" % signal_name(result.returncode))
    elif result.returncode == 0:
        problems.append("exit code 0 for a failing command")
    elif result.returncode >= 128:
        problems.append("exit code %d looks like a signal" % result.returncode)
    elif expected_code is not None and result.returncode != expected_code:
        problems.append("exit code %d, expected %d" % (result.returncode, expected_code))
    for marker in CRASH_MARKERS:
        if marker in result.stderr or marker in result.stdout:
            problems.append("crash marker %r in output" % marker)
    lines = result.stderr.splitlines()
    if not lines:
        problems.append("nothing on stderr")
        return problems
    first = lines[0]
    if not first.startswith("Error: "):
        problems.append("first stderr line does not start with 'Error: ': %r" % first)
    if usage_error:
        rest = lines[1:]
        if rest and (rest[0] != "" or not any(l.startswith("Usage:") for l in rest)):
            problems.append("a usage error should be followed by nothing or by the usage text")
        if any(l.startswith("Error") for l in rest):
            problems.append("more than one error line on stderr")
    elif len(lines) != 1:
        problems.append("stderr has %d lines, expected one" % len(lines))
    for text in must_contain:
        if text not in first:
            problems.append("error line lacks %r" % text)
    return problems


def install_distribution(cmake, build_dir, prefix):
    """`cmake --install BUILD --prefix PREFIX`; raises on failure."""
    result = run([cmake, "--install", build_dir, "--prefix", prefix], timeout=300)
    if result.returncode != 0:
        raise RuntimeError("cmake --install failed\n" + result.describe())
    for rel in ("bin/eddy", "lib/libeddy.so", "include/eddy/eddy.h", "lib/cmake/Eddy",
                "conf/config.yaml", "examples/libeddy-examples.so", "log"):
        if not os.path.exists(os.path.join(prefix, rel)):
            raise RuntimeError("the installed distribution lacks " + rel)


def build_job_project(cmake, cxx, dist, project_dir, job_name, sources):
    """Writes a user's CMake project (find_package(Eddy) + eddy_add_job) into
    project_dir, builds it with Ninja against `dist` and returns the path of
    lib<job_name>.so. `sources` maps file names to their text."""
    os.makedirs(project_dir, exist_ok=True)
    with open(os.path.join(project_dir, "CMakeLists.txt"), "w") as f:
        f.write("cmake_minimum_required(VERSION 3.25)\n"
                "project(UserJob LANGUAGES CXX)\n"
                "find_package(Eddy REQUIRED)\n"
                "eddy_add_job(%s SOURCES %s)\n" % (job_name, " ".join(sorted(sources))))
    for name, text in sources.items():
        with open(os.path.join(project_dir, name), "w") as f:
            f.write(text)
    build_dir = os.path.join(project_dir, "build")
    configure = [cmake, "-S", project_dir, "-B", build_dir, "-G", "Ninja",
                 "-DCMAKE_PREFIX_PATH=" + dist]
    if cxx:
        configure.append("-DCMAKE_CXX_COMPILER=" + cxx)
    ninja = shutil.which("ninja")
    if ninja:
        configure.append("-DCMAKE_MAKE_PROGRAM=" + ninja)
    result = run(configure, timeout=300)
    if result.returncode != 0:
        raise RuntimeError("configuring the job project failed\n" + result.describe())
    result = run([cmake, "--build", build_dir, "--parallel", "2"], timeout=600)
    if result.returncode != 0:
        raise RuntimeError("building the job project failed\n" + result.describe())
    library = os.path.join(build_dir, "lib%s.so" % job_name)
    if not os.path.isfile(library):
        raise RuntimeError("the job project did not produce " + library)
    return library


def free_port():
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, step=0.2):
    """Polls `predicate` until it returns a true value or `timeout` seconds
    passed; returns its last value."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() >= deadline:
            return value
        time.sleep(step)


def rest_get(port, path):
    """GET http://127.0.0.1:<port><path> → (status, parsed JSON or None);
    status 0 when nothing answers."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None
    except (urllib.error.URLError, ConnectionError, socket.timeout, ValueError):
        return 0, None
