#!/usr/bin/env python3
"""The cluster runtime end to end: a `jobmanager` and two `taskmanager` processes
(2 slots each) on loopback, driven with the `eddy` CLI and curl-like REST calls.

Checks, against independent references computed here:
  * /overview counts 2 TaskManagers and 4 slots;
  * WordCount at -p 4 across both TaskManagers gives the exact word counts, the
    job is FINISHED in /jobs/overview, and the network write counters of the
    tokenizer vertex equal the number of words;
  * backpressure: an endless source feeding a 1 ms/record sink is throttled to
    the sink's pace and the TaskManagers' memory stays bounded;
  * bad input: no JobManager, too many slots, unknown job id, malformed REST
    requests — each a clear error, and the cluster keeps running;
  * kill -9 of a TaskManager under SocketWordCount fails the job within 10 s
    with a root exception naming the lost TaskManager, and a new job then runs
    on the remaining slots;
  * a TaskManager pointed at an unreachable JobManager retries and says why.
"""

import argparse
import collections
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_support as e2e  # noqa: E402

WORD = re.compile(rb"[a-z0-9]+")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rest(port, path, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body or b"null")
        except ValueError:
            return e.code, body
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return 0, {}


def wait_for(predicate, timeout, step=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Cluster:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.rpc_port = free_port()
        self.rest_port = free_port()
        self.procs = []
        self.tm_ports = []
        os.makedirs(os.path.join(work, "log"), exist_ok=True)
        self.common = ["-D", "jobmanager.rpc.address=localhost", "-D", "jobmanager.rpc.port=%d" % self.rpc_port,
                       "-D", "heartbeat.interval=500 ms", "-D", "heartbeat.timeout=4 s",
                       "-D", "env.log.dir=" + os.path.join(work, "log")]

    def spawn(self, name, cmd):
        out = open(os.path.join(self.work, "log", name + ".out"), "wb")
        proc = subprocess.Popen([str(c) for c in cmd], stdout=out, stderr=subprocess.STDOUT,
                                env=e2e.hermetic_env())
        self.procs.append(proc)
        return proc

    def start(self):
        self.jm = self.spawn("jobmanager", [self.args.jobmanager] + self.common +
                             ["-D", "rest.port=%d" % self.rest_port, "-D", "slot.request.timeout=3 s"])
        self.tms = []
        for i in range(2):
            port = free_port()
            self.tm_ports.append(port)
            self.tms.append(self.spawn("taskmanager-%d" % i, [self.args.taskmanager] + self.common +
                                       ["-D", "taskmanager.numberOfTaskSlots=2",
                                        "-D", "taskmanager.rpc.port=%d" % port]))

    def eddy(self, *argv, timeout=180):
        return e2e.run([self.args.eddy] + list(argv[:1]) + ["-m", "localhost:%d" % self.rpc_port] +
                       list(argv[1:]), timeout=timeout)

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                failures.append("a daemon did not exit within 15 s of SIGTERM")


def count_words(data):
    return collections.Counter(m.group(0).decode() for m in WORD.finditer(data.lower()))


def final_counts(out_dir):
    counts = {}
    for name in os.listdir(out_dir):
        with open(os.path.join(out_dir, name), "rb") as f:
            for line in f:
                word, n = line.decode().strip()[1:-1].rsplit(",", 1)
                counts[word] = int(n)
    return counts


def make_text(path, words, seed):
    rng = random.Random(seed)
    vocab = ["w%dX" % i for i in range(3000)] + ["Alpha", "beta", "GAMMA", "d3lta"]
    with open(path, "wb") as f:
        lines = []
        for _ in range(words // 10):
            lines.append(" ".join(rng.choice(vocab) for _ in range(10)) + rng.choice([".", ",", "", "!"]))
        data = ("\n".join(lines) + "\n").encode()
        f.write(data)
    return data


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--eddy", required=True)
    parser.add_argument("--jobmanager", required=True)
    parser.add_argument("--taskmanager", required=True)
    parser.add_argument("--examples", required=True)
    parser.add_argument("--test-jobs", required=True)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="eddy-cluster-e2e-")
    cluster = Cluster(args, work)
    try:
        cluster.start()
        def two_taskmanagers():
            status, body = rest(cluster.rest_port, "/overview")
            return body if status == 200 and body["taskmanagers"] == 2 else None
        overview = wait_for(two_taskmanagers, 30)
        if not check(overview is not None, "/overview shows 2 TaskManagers"):
            return
        check(overview["slots-total"] == 4, "slots-total is 4 (got %s)" % overview["slots-total"])

        # ---- WordCount at -p 4 across both TaskManagers ----
        text = os.path.join(work, "words.txt")
        data = make_text(text, 300000, 7)
        out = os.path.join(work, "wc-out")
        r = cluster.eddy("run", "-p", "4", "-c", "WordCount", args.examples, "--input", text, "--output", out)
        check(r.returncode == 0, "WordCount -p 4 exits 0\n" + r.describe())
        m = re.search(r"Job has been submitted with JobID ([0-9a-f]{32})", r.stdout)
        check(m is not None, "prints the JobID line")
        expected = count_words(data)
        if r.returncode == 0:
            check(final_counts(out) == dict(expected), "WordCount counts equal the independent count")
        if m:
            jid = m.group(1)
            status, jobs = rest(cluster.rest_port, "/jobs/overview")
            mine = [j for j in jobs["jobs"] if j["jid"] == jid]
            check(len(mine) == 1 and mine[0]["state"] == "FINISHED" and mine[0]["name"] == "Streaming WordCount",
                  "/jobs/overview lists the job FINISHED under its name")
            status, job = rest(cluster.rest_port, "/jobs/" + jid)
            tokenizer = [v for v in job["vertices"] if "tokenizer" in v["name"]]
            check(tokenizer and tokenizer[0]["parallelism"] == 4, "the tokenizer vertex has parallelism 4")
            if tokenizer:
                written = tokenizer[0]["metrics"]["write-records"]
                check(written == sum(expected.values()),
                      "tokenizer write-records %d == words %d" % (written, sum(expected.values())))

        # ---- backpressure ----
        r = cluster.eddy("run", "-d", "-p", "2", "-c", "Throttled", args.test_jobs, timeout=60)
        m = re.search(r"JobID ([0-9a-f]{32})", r.stdout)
        if check(r.returncode == 0 and m, "Throttled job submitted detached\n" + r.describe()):
            jid = m.group(1)

            def source_written():
                status, job = rest(cluster.rest_port, "/jobs/" + jid)
                src = [v for v in job.get("vertices", []) if v["name"].startswith("numbers")]
                return src[0]["metrics"]["write-records"] if src else 0
            started = wait_for(lambda: source_written() > 0, 20)
            time.sleep(6)
            written = source_written()
            # The sinks take 2 x 1000 records/s and the buffers in flight hold a
            # bounded number more; unthrottled, the source makes millions a second.
            check(started and 0 < written < 1000000,
                  "backpressure throttles the source: %d records written in ~6 s" % written)
            peak = max(rss_kb(p.pid) for p in cluster.tms)
            check(peak < 400 * 1024, "TaskManager memory stays bounded (%d MB RSS)" % (peak // 1024))
            status, _ = rest(cluster.rest_port, "/jobs/%s?mode=cancel" % jid, "PATCH")
            check(status == 202, "PATCH /jobs/:jid?mode=cancel accepted (%s)" % status)
            check(wait_for(lambda: rest(cluster.rest_port, "/jobs/" + jid)[1]["state"] == "CANCELED", 15),
                  "the throttled job is CANCELED")

        # ---- bad input ----
        r = e2e.run([args.eddy, "run", "-m", "localhost:%d" % free_port(), "-c", "WordCount", args.examples])
        check(not e2e.error_problems(r, ["cannot reach the JobManager"]),
              "submitting to a JobManager that is down: " + "; ".join(e2e.error_problems(r, ["cannot reach"])))
        r = cluster.eddy("run", "-p", "5", "-c", "WordCount", args.examples)
        check(not e2e.error_problems(r, ["could not allocate 5 slots"]),
              "a job needing 5 of 4 slots fails: " + "; ".join(e2e.error_problems(r, ["could not allocate 5 slots"])))
        r = cluster.eddy("cancel", "0123456789abcdef0123456789abcdef")
        check(r.returncode == 1 and "not found" in r.stderr, "cancelling an unknown job id\n" + r.describe())
        check(rest(cluster.rest_port, "/jobs/not-a-job-id")[0] == 400, "malformed job id → 400")
        check(rest(cluster.rest_port, "/no/such/path")[0] == 404, "unknown path → 404")
        check(rest(cluster.rest_port, "/overview", "DELETE")[0] == 405, "wrong method → 405")
        status, overview = rest(cluster.rest_port, "/overview")
        check(status == 200 and overview["taskmanagers"] == 2, "the cluster is still up after bad input")

        # ---- TaskManager loss under SocketWordCount ----
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        conns = []

        def serve():
            c, _ = server.accept()
            conns.append(c)
            for i in range(2000):
                c.sendall(b"hello world %d\n" % (i % 50))
        threading.Thread(target=serve, daemon=True).start()
        r = cluster.eddy("run", "-d", "-p", "4", "-c", "SocketWordCount", args.examples,
                         "--hostname", "127.0.0.1", "--port", str(server.getsockname()[1]), timeout=60)
        m = re.search(r"JobID ([0-9a-f]{32})", r.stdout)
        if check(r.returncode == 0 and m, "SocketWordCount submitted\n" + r.describe()):
            jid = m.group(1)

            def all_running():
                status, job = rest(cluster.rest_port, "/jobs/" + jid)
                return status == 200 and job["state"] == "RUNNING" and all(
                    v["status"] == "RUNNING" for v in job["vertices"])
            check(wait_for(all_running, 20), "SocketWordCount is RUNNING on both TaskManagers")
            victim = cluster.tms[1]
            status, tms = rest(cluster.rest_port, "/taskmanagers")
            ports = [str(cluster.tm_ports[1])] + [
                str(t["dataPort"]) for t in tms.get("taskmanagers", [])
                if t["path"].endswith(":%d" % cluster.tm_ports[1])]
            check(len(ports) == 2, "/taskmanagers lists the victim with its data port")
            killed_at = time.time()
            victim.send_signal(signal.SIGKILL)
            failed = wait_for(lambda: rest(cluster.rest_port, "/jobs/" + jid)[1]["state"] == "FAILED", 15)
            elapsed = time.time() - killed_at
            check(failed and elapsed <= 10, "the job is FAILED %.1f s after kill -9" % elapsed)
            status, exc = rest(cluster.rest_port, "/jobs/%s/exceptions" % jid)
            root = (exc or {}).get("root-exception") or ""
            # Its RPC address (heartbeats) or its data address (a broken channel).
            check(any(":" + p in root for p in ports),
                  "the root exception names the lost TaskManager: " + root)
            check(wait_for(lambda: rest(cluster.rest_port, "/overview")[1]["taskmanagers"] == 1, 15),
                  "/overview shows 1 TaskManager")
            out2 = os.path.join(work, "wc-out-2")
            r = cluster.eddy("run", "-p", "2", "-c", "WordCount", args.examples, "--input", text, "--output", out2)
            check(r.returncode == 0 and final_counts(out2) == dict(expected),
                  "a new job runs on the remaining slots\n" + r.describe())
        for c in conns:
            c.close()
        server.close()

        # ---- a TaskManager pointed at an unreachable JobManager ----
        dead = free_port()
        lonely = subprocess.Popen([args.taskmanager, "-D", "jobmanager.rpc.port=%d" % dead,
                                   "-D", "env.log.dir=" + os.path.join(work, "log-lonely")],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=e2e.hermetic_env())
        time.sleep(3)
        lonely.send_signal(signal.SIGTERM)
        output = lonely.communicate(timeout=15)[0].decode(errors="replace")
        logs = ""
        for root_dir, _, files in os.walk(os.path.join(work, "log-lonely")):
            for name in files:
                with open(os.path.join(root_dir, name), errors="replace") as f:
                    logs += f.read()
        check("Could not register" in logs + output and str(dead) in logs + output,
              "a TaskManager without a JobManager retries and logs why")
        check(lonely.returncode == 0, "it exits cleanly on SIGTERM (%s)" % lonely.returncode)
    finally:
        cluster.stop()
        if failures:
            for name in sorted(os.listdir(os.path.join(work, "log"))):
                path = os.path.join(work, "log", name)
                with open(path, errors="replace") as f:
                    print("==== %s (tail)\n%s" % (name, f.read()[-3000:]))
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("%d checks failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
