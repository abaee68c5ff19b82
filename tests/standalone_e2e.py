#!/usr/bin/env python3
"""The standalone cluster round trip, exactly as a user does it with the
installed distribution (no -m, no -D: everything comes from <dist>/conf).

1. `cmake --install BUILD --prefix TMP/dist`.
2. <dist>/conf/config.yaml gets free jobmanager.rpc.port and rest.port, 2 slots
   per TaskManager and a 500 ms / 4 s heartbeat; conf/masters is
   localhost:<rest port>; conf/workers lists localhost twice. The scripts run
   with EDDY_PID_DIR=TMP/pids, so no other pid file is ever touched.
3. `<dist>/bin/start-cluster.sh`; GET /overview must reach 2 TaskManagers and
   4 slots within 30 s, and the pid files must name this dist's daemons.
4. `<dist>/bin/eddy run -p 4 -c WordCount <dist>/examples/libeddy-examples.so
   --input F --output D` on a generated ~5 MB text: exit 0, the JobID line,
   and for every word the counts in D are 1, 2, ..., n in a single part file,
   n being an independent count made here (words: maximal runs of [a-z0-9]
   after ASCII lower-casing).
5. GET /jobs/overview lists the job FINISHED as "Streaming WordCount";
   `<dist>/bin/eddy list` shows it under the terminated jobs.
6. `<dist>/bin/stop-cluster.sh`: within 15 s no jobmanager/taskmanager process
   of this dist is left, and the pid files are gone.
The cluster is always stopped and TMP removed, even on failure; the daemons'
log tails are printed on failure.

Usage: standalone_e2e.py --build-dir DIR --cmake CMAKE [--cxx CXX]
"""

import argparse
import collections
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_support as e2e  # noqa: E402

WORD = re.compile(rb"[a-z0-9]+")
LINE = re.compile(rb"\(([a-z0-9]+),([0-9]+)\)")
JOBID = re.compile(r"Job has been submitted with JobID ([0-9a-f]{32})\b")
PARALLELISM = 4
TEXT_BYTES = 5 * 1024 * 1024
DAEMONS = ("jobmanager", "taskmanager")

failures = []


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
        if detail:
            print("    " + detail.replace("\n", "\n    "), flush=True)
    return cond


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rest(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None
    except (urllib.error.URLError, ConnectionError, socket.timeout, ValueError):
        return 0, None


def wait_for(predicate, timeout, step=0.2):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() >= deadline:
            return value
        time.sleep(step)


# ---------------------------------------------------------------- the input

def make_text(path, seed=20240611):
    """~5 MB of deterministic text: mixed-case words, digits, words glued to
    digits and punctuation, apostrophes, hyphens, underscores, tabs, CRLF and
    blank lines, a few UTF-8 words (their non-ASCII bytes separate words), one
    long line, and no newline at the end. Returns the bytes written."""
    rng = random.Random(seed)
    stems = ["stream", "flink", "eddy", "window", "state", "keyed", "record", "buffer",
             "slot", "task", "manager", "job", "graph", "watermark", "sink", "source"]
    stems += ["w%d" % i for i in range(2500)]

    def word():
        r = rng.random()
        if r < 0.55:
            w = rng.choice(stems)
        elif r < 0.65:
            return str(rng.randrange(0, 100000))                      # digits only
        elif r < 0.75:
            w = rng.choice(stems) + str(rng.randrange(0, 50))         # abc12
        elif r < 0.80:
            w = str(rng.randrange(0, 10)) + rng.choice(stems)         # 7abc
        elif r < 0.85:
            w = rng.choice(stems) + rng.choice(["'s", "'t", "-like", "_x", ".io", "@home"])
        elif r < 0.87:
            return rng.choice(["Caf\u00e9", "na\u00efve", "\u00fcber", "stra\u00dfe",
                               "\u65e5\u672c"])
        else:
            w = "".join(rng.choice(stems)[:3] for _ in range(rng.randrange(1, 4)))
        case = rng.random()
        if case < 0.2:
            return w.upper()
        if case < 0.4:
            return w.capitalize()
        if case < 0.5:
            return "".join(c.upper() if rng.random() < 0.5 else c for c in w)
        return w

    seps = [" "] * 12 + [", ", ". ", "; ", ": ", "! ", "? ", " -- ", "\t", "  ", "(", ") ",
                         "\"", "/", "...", " & ", "#"]
    lines = []
    size = 0
    long_line_at = 20000
    while size < TEXT_BYTES:
        n = 2000 if len(lines) == long_line_at else rng.choice([0, 1, 3, 5, 8, 12, 12, 15, 20])
        parts = []
        for i in range(n):
            parts.append(word())
            if i + 1 < n:
                parts.append(rng.choice(seps))
        line = "".join(parts) + rng.choice(["", "", ".", "!", "?", " ", ",\r"])
        lines.append(line)
        size += len(line.encode("utf-8")) + 1
    data = "\n".join(lines).encode("utf-8")  # no trailing newline
    with open(path, "wb") as f:
        f.write(data)
    return data


def count_words(data):
    return collections.Counter(m.group(0).decode() for m in WORD.finditer(data.lower()))


def output_problems(out_dir, expected):
    """Every word's counts must be 1, 2, ..., n, in one part file, n == expected."""
    problems = []
    allowed = {"part-%d-0" % i for i in range(PARALLELISM)}
    names = sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else []
    if not names:
        return ["no output in " + out_dir]
    extra = [n for n in names if n not in allowed]
    if extra:
        problems.append("unexpected files in the output directory: %s" % extra)
    last = {}
    home = {}
    for name in names:
        if name not in allowed:
            continue
        with open(os.path.join(out_dir, name), "rb") as f:
            for line_no, line in enumerate(f, 1):
                m = LINE.fullmatch(line.rstrip(b"\n"))
                if not m:
                    problems.append("%s:%d: malformed line %r" % (name, line_no, line[:100]))
                    return problems
                word, count = m.group(1).decode(), int(m.group(2))
                if home.setdefault(word, name) != name:
                    problems.append("word %r appears in %s and %s" % (word, home[word], name))
                    return problems
                if count != last.get(word, 0) + 1:
                    problems.append("%s:%d: (%s,%d) follows count %d" %
                                    (name, line_no, word, count, last.get(word, 0)))
                    return problems
                last[word] = count
    if last != dict(expected):
        missing = sorted(set(expected) - set(last))
        extra_words = sorted(set(last) - set(expected))
        wrong = sorted(w for w in expected if w in last and last[w] != expected[w])
        problems.append("final counts differ from the independent count: %d missing %s, "
                        "%d extra %s, %d wrong %s" %
                        (len(missing), missing[:10], len(extra_words), extra_words[:10], len(wrong),
                         ["%s=%d (want %d)" % (w, last[w], expected[w]) for w in wrong[:10]]))
    return problems


# ---------------------------------------------------------------- processes

def dist_daemon_pids(dist):
    """{pid: role} of the live (non-zombie) jobmanager/taskmanager processes
    running this dist's binaries (argv[0] or any argument naming them)."""
    binaries = {}
    for role in DAEMONS:
        for base in {dist, os.path.realpath(dist)}:
            binaries[os.path.join(base, "bin", role)] = role
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        for arg in argv:
            role = binaries.get(arg.decode("utf-8", "replace"))
            if role:
                found[int(entry)] = role
                break
    return found


def read_pid_file(path):
    try:
        with open(path) as f:
            return [int(line) for line in f.read().split()]
    except (OSError, ValueError):
        return None


def env_user(env):
    """The ident string config.sh names the pid files with ($USER, else id -un)."""
    return env.get("USER") or pwd.getpwuid(os.getuid()).pw_name


def log_tails(dist):
    log_dir = os.path.join(dist, "log")
    if not os.path.isdir(log_dir):
        return
    for name in sorted(os.listdir(log_dir)):
        path = os.path.join(log_dir, name)
        if os.path.isfile(path):
            with open(path, errors="replace") as f:
                print("==== %s (tail)\n%s" % (name, f.read()[-4000:]), flush=True)


# ---------------------------------------------------------------- the test

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True, help="the Eddy build tree, to install")
    parser.add_argument("--cmake", default="cmake")
    parser.add_argument("--cxx", default="", help="unused; accepted with the other dist args")
    args = parser.parse_args()

    started_at = time.time()
    tmp = os.path.realpath(tempfile.mkdtemp(prefix="eddy-standalone-e2e-"))
    dist = os.path.join(tmp, "dist")
    pid_dir = os.path.join(tmp, "pids")
    bin_dir = os.path.join(dist, "bin")
    env = e2e.hermetic_env()
    for var in ("EDDY_CONF_DIR", "EDDY_LOG_DIR", "EDDY_IDENT_STRING", "EDDY_STOP_TIMEOUT",
                "EDDY_SSH_OPTS"):
        env.pop(var, None)
    env["EDDY_PID_DIR"] = pid_dir
    cluster_started = False
    cluster_stopped = False
    try:
        # ---- 1. install ----
        e2e.install_distribution(args.cmake, args.build_dir, dist)
        for rel in ("bin/jobmanager", "bin/taskmanager", "bin/start-cluster.sh",
                    "bin/stop-cluster.sh", "bin/config.sh", "bin/eddy-daemon.sh",
                    "bin/jobmanager.sh", "bin/taskmanager.sh", "conf/masters", "conf/workers"):
            if not check(os.path.exists(os.path.join(dist, rel)), "the distribution has " + rel):
                return
        print("installed in %.1f s" % (time.time() - started_at), flush=True)

        # ---- 2. configure ----
        rpc_port = free_port()
        rest_port = free_port()
        while rest_port == rpc_port:
            rest_port = free_port()
        with open(os.path.join(dist, "conf", "config.yaml"), "a") as f:
            f.write("\n# ---- standalone_e2e.py ----\n"
                    "jobmanager.rpc.address: localhost\n"
                    "jobmanager.rpc.port: %d\n"
                    "rest.port: %d\n"
                    "taskmanager.numberOfTaskSlots: 2\n"
                    "heartbeat.interval: 500 ms\n"
                    "heartbeat.timeout: 4 s\n" % (rpc_port, rest_port))
        with open(os.path.join(dist, "conf", "masters"), "w") as f:
            f.write("localhost:%d\n" % rest_port)
        with open(os.path.join(dist, "conf", "workers"), "w") as f:
            f.write("localhost\nlocalhost\n")
        print("jobmanager.rpc.port %d, rest.port %d, EDDY_PID_DIR %s" % (rpc_port, rest_port, pid_dir),
              flush=True)

        # ---- 3. start-cluster.sh ----
        cluster_started = True
        r = e2e.run([os.path.join(bin_dir, "start-cluster.sh")], timeout=60, env=env)
        print(r.stdout.rstrip(), flush=True)
        if not check(r.returncode == 0, "start-cluster.sh exits 0", r.describe()):
            return

        def ready():
            status, body = rest(rest_port, "/overview")
            if status == 200 and body.get("taskmanagers") == 2 and body.get("slots-total") == 4:
                return body
            return None
        t0 = time.time()
        overview = wait_for(ready, 30)
        if not check(overview is not None,
                     "/overview shows 2 TaskManagers and 4 slots (%.1f s)" % (time.time() - t0),
                     "last /overview: %s" % (rest(rest_port, "/overview"),)):
            return
        running = dist_daemon_pids(dist)
        jm_pids = read_pid_file(os.path.join(pid_dir, "eddy-%s-jobmanager.pid" % env_user(env)))
        tm_pids = read_pid_file(os.path.join(pid_dir, "eddy-%s-taskmanager.pid" % env_user(env)))
        check(jm_pids is not None and len(jm_pids) == 1 and running.get(jm_pids[0]) == "jobmanager",
              "the jobmanager pid file names this dist's running jobmanager",
              "pid file %s, running %s" % (jm_pids, running))
        check(tm_pids is not None and len(tm_pids) == 2 and
              all(running.get(p) == "taskmanager" for p in tm_pids),
              "the taskmanager pid file names this dist's 2 running taskmanagers",
              "pid file %s, running %s" % (tm_pids, running))
        check(sorted(running.values()) == ["jobmanager", "taskmanager", "taskmanager"],
              "exactly 1 jobmanager and 2 taskmanagers of this dist run", str(running))

        # ---- 4. WordCount -p 4 through the installed CLI, no -m ----
        text = os.path.join(tmp, "words.txt")
        data = make_text(text)
        expected = count_words(data)
        print("input: %d bytes, %d words, %d distinct" %
              (len(data), sum(expected.values()), len(expected)), flush=True)
        out = os.path.join(tmp, "wc-out")
        t0 = time.time()
        r = e2e.run([os.path.join(bin_dir, "eddy"), "run", "-p", str(PARALLELISM), "-c", "WordCount",
                     os.path.join(dist, "examples", "libeddy-examples.so"),
                     "--input", text, "--output", out], timeout=200, cwd=tmp, env=env)
        print("eddy run took %.1f s" % (time.time() - t0), flush=True)
        check(r.returncode == 0, "eddy run -p 4 WordCount exits 0", r.describe())
        m = JOBID.search(r.stdout)
        check(m is not None, "eddy run prints 'Job has been submitted with JobID <32 hex>'", r.describe())
        if r.returncode == 0:
            problems = output_problems(out, expected)
            check(not problems, "every word's counts in the output are 1..n with n the independent count",
                  "\n".join(problems))

        # ---- 5. the job as REST and `eddy list` show it ----
        if m:
            jid = m.group(1)
            status, jobs = rest(rest_port, "/jobs/overview")
            mine = [j for j in (jobs or {}).get("jobs", []) if j.get("jid") == jid]
            check(status == 200 and len(mine) == 1 and mine[0].get("state") == "FINISHED" and
                  mine[0].get("name") == "Streaming WordCount",
                  "/jobs/overview lists %s FINISHED as 'Streaming WordCount'" % jid,
                  "status %s, body %s" % (status, jobs))
            status, job = rest(rest_port, "/jobs/" + jid)
            tokenizer = [v for v in (job or {}).get("vertices", []) if "tokenizer" in v.get("name", "")]
            check(len(tokenizer) == 1 and tokenizer[0].get("parallelism") == PARALLELISM and
                  tokenizer[0].get("metrics", {}).get("write-records") == sum(expected.values()),
                  "the tokenizer vertex ran at -p 4 and wrote one record per word (%d)" %
                  sum(expected.values()), "status %s, vertices %s" % (status, tokenizer))
            r = e2e.run([os.path.join(bin_dir, "eddy"), "list"], timeout=30, cwd=tmp, env=env)
            terminated = r.stdout.split("Terminated Jobs", 1)
            check(r.returncode == 0 and len(terminated) == 2 and
                  re.search(r"^.* : %s : Streaming WordCount \(FINISHED\)$" % jid,
                            terminated[1], re.M) is not None and jid not in terminated[0],
                  "eddy list (no -m) shows the job under the terminated jobs", r.describe())

        # ---- 6. stop-cluster.sh ----
        r = e2e.run([os.path.join(bin_dir, "stop-cluster.sh")], timeout=60, env=env)
        print(r.stdout.rstrip(), flush=True)
        cluster_stopped = r.returncode == 0
        check(r.returncode == 0, "stop-cluster.sh exits 0", r.describe())
        check("did not stop within" not in r.stdout + r.stderr,
              "every daemon stops on SIGTERM (no SIGKILL needed)", r.describe())
        t0 = time.time()
        left = wait_for(lambda: not dist_daemon_pids(dist), 15)
        check(left, "no jobmanager/taskmanager of this dist is left (%.1f s)" % (time.time() - t0),
              "still running: %s" % dist_daemon_pids(dist))
        pid_files = sorted(os.listdir(pid_dir)) if os.path.isdir(pid_dir) else []
        check(not [n for n in pid_files if n.endswith(".pid")],
              "the pid files are gone", "left in %s: %s" % (pid_dir, pid_files))
        check(rest(rest_port, "/overview")[0] == 0, "the REST endpoint no longer answers")
        crashes = []
        for name in os.listdir(os.path.join(dist, "log")):
            with open(os.path.join(dist, "log", name), errors="replace") as f:
                body = f.read()
            crashes += ["%s: %r" % (name, mk) for mk in e2e.CRASH_MARKERS if mk in body]
        check(not crashes, "no crash marker in the daemons' logs", "; ".join(crashes))
    except Exception as e:  # noqa: BLE001 - reported as a failure, cleanup follows
        traceback.print_exc()
        check(False, "unexpected %s: %s" % (type(e).__name__, e))
    finally:
        if cluster_started and not cluster_stopped:
            try:
                r = e2e.run([os.path.join(bin_dir, "stop-cluster.sh")], timeout=60, env=env)
                print("cleanup: stop-cluster.sh exit %d" % r.returncode, flush=True)
            except Exception as e:  # noqa: BLE001
                print("cleanup: stop-cluster.sh failed: %s" % e, flush=True)
        # Last resort: the daemons this test started (they run this dist's binaries).
        for pid in dist_daemon_pids(dist):
            print("cleanup: killing leftover daemon %d" % pid, flush=True)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if failures:
            log_tails(dist)
        shutil.rmtree(tmp, ignore_errors=True)
    print("total %.1f s" % (time.time() - started_at))
    if failures:
        print("%d check(s) failed: %s" % (len(failures), "; ".join(failures)))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
