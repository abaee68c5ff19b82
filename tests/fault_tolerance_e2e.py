#!/usr/bin/env python3
"""Fault tolerance on the daemons of an installed distribution, driven with the
bin/ scripts, the `eddy` CLI and REST.

1. TaskManager kills, for the hashmap and the rocksdb backend (with incremental
   checkpoints): ExactlyOnceTotals
   (one slow generator → running count and sum per key in keyed state → the
   exactly-once file sink, checkpoints every 400 ms) runs at -p 2. While it
   runs, a TaskManager holding its tasks is killed with kill -9, twice, and a
   replacement is started with `taskmanager.sh start` each time. The committed
   part files, as a multiset of lines, must equal both a failure-free run of
   the same job and an independent computation here; no in-progress file may
   be left. REST must show the restarts in the exception history and
   completed checkpoints.
   With AT_LEAST_ONCE and a kill, no window loses a record (some may count
   records twice).
   CepLoginFail (CEP: two consecutive failed logins within 2 s, per user;
   partial matches live in keyed state) at -p 2 with a kill: the committed
   matches equal the ones computed here, none lost or repeated.
2. Savepoints: WindowTotals (event-time tumbling windows, so open windows hold
   keyed state and event-time timers) runs at -p 4; `eddy stop -p DIR` stops it
   with a savepoint mid-stream. The savepoint directory is moved elsewhere and
   the job restored from the new place at -p 2, stopped again with a savepoint,
   and restored at -p 4 to the end. The union of the three runs' committed
   outputs must equal the window results computed here, each line once.
3. Bad input: a truncated _metadata, a savepoint holding state of operators
   the job lacks (without -n), and a checkpoint directory that cannot be
   written each give a clear error, and the cluster still runs a job.
"""

import argparse
import collections
import glob
import json
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dist_cluster  # noqa: E402
import e2e_support as e2e  # noqa: E402
from dist_cluster import check, committed, diff, totals_reference  # noqa: E402

SAVEPOINT = re.compile(r"Savepoint completed\. Path: (\S+)")
free_port = e2e.free_port
wait_for = e2e.wait_for
rest = e2e.rest_get



# ---------------------------------------------------------------- references

def windows_reference(n, keys):
    windows = {}
    for i in range(n):
        key, end = i % keys, (i * 10 // 1000 + 1) * 1000
        c, s = windows.get((key, end), (0, 0))
        windows[(key, end)] = (c + 1, s + i)
    return collections.Counter("%d,%d,%d,%d" % (k, e, c, s) for (k, e), (c, s) in windows.items())


def hidden_files(out_dir):
    return [p for p in glob.glob(os.path.join(out_dir, "**", ".*"), recursive=True)]


# ---------------------------------------------------------------- scenarios

def kills(cluster, jobs, work, backend):
    n, keys, rate = 24000, 13, 2000
    argv = [jobs, "--n", str(n), "--keys", str(keys), "--rate", str(rate), "--interval", "400"]
    conf = ["-D", "state.backend.type=" + backend]
    if backend == "rocksdb":  # incremental checkpoints: shared SST files across checkpoints and restores
        conf += ["-D", "state.backend.incremental=true"]
    reference = totals_reference(n, keys)

    clean = os.path.join(work, backend + "-clean")
    jid = cluster.submit("ExactlyOnceTotals", argv + ["--output", clean], 2, conf)
    if not jid or not check(cluster.wait_state(jid, ("FINISHED", "FAILED"), 120) and
                            cluster.state(jid) == "FINISHED", "[%s] the failure-free run finishes" % backend):
        return
    clean_lines = committed(clean)
    check(clean_lines == reference, "[%s] failure-free output equals the reference" % backend,
          diff(clean_lines, reference))

    out = os.path.join(work, backend + "-killed")
    jid = cluster.submit("ExactlyOnceTotals", argv + ["--output", out], 2, conf)
    if not jid:
        return
    for round_ in (1, 2):
        got = wait_for(lambda: cluster.state(jid) == "RUNNING" and cluster.completed_checkpoints(jid) >= round_, 60)
        if not check(got, "[%s] kill %d: the job runs and has completed a checkpoint" % (backend, round_)):
            return
        time.sleep(1.0)
        started = time.time()
        pid = cluster.kill_busy_taskmanager()
        if not check(pid is not None, "[%s] kill %d: kill -9 a TaskManager running the job (pid %s)" %
                     (backend, round_, pid)):
            return
        def failures_seen():
            status, body = rest(cluster.rest_port, "/jobs/%s/exceptions" % jid)
            return len((body or {}).get("exceptionHistory", {}).get("entries", [])) >= round_
        check(wait_for(failures_seen, 30, step=0.05), "[%s] kill %d: the JobManager notices the loss" %
              (backend, round_))
        running_again = wait_for(
            lambda: cluster.state(jid) == "RUNNING" and len(cluster.job(jid)["vertices"]) > 0 and all(
                v["status"] == "RUNNING" for v in cluster.job(jid)["vertices"]), 60, step=0.1)
        print("    running again %.1f s after the kill" % (time.time() - started), flush=True)
        check(running_again, "[%s] kill %d: the job runs again" % (backend, round_))
        r = cluster.script("taskmanager.sh", "start")
        check(r.returncode == 0, "[%s] kill %d: taskmanager.sh start" % (backend, round_), r.describe())
        check(cluster.wait_taskmanagers(2), "[%s] kill %d: the replacement registered" % (backend, round_))
    check(cluster.wait_state(jid, ("FINISHED", "FAILED", "CANCELED"), 180) and cluster.state(jid) == "FINISHED",
          "[%s] the job with two kills finishes (state %s)" % (backend, cluster.state(jid)))
    status, exceptions = rest(cluster.rest_port, "/jobs/%s/exceptions" % jid)
    entries = (exceptions or {}).get("exceptionHistory", {}).get("entries", [])
    check(len(entries) >= 2, "[%s] REST exception history records both failures (%d)" % (backend, len(entries)))
    lines = committed(out)
    check(lines == reference, "[%s] output with two kills equals the reference" % backend, diff(lines, reference))
    check(lines == clean_lines, "[%s] output with two kills equals the failure-free run" % backend)
    check(not hidden_files(out), "[%s] no in-progress files are left" % backend, hidden_files(out)[:5])


def cep_reference(n, users):
    """Per user, consecutive failed logins less than 2 s apart (CepLoginFail)."""
    last = {}
    lines = collections.Counter()
    for i in range(n):
        user, failed, t = i % users, (i * 7919) % 10 < 4, i * 100
        previous = last.get(user)
        if failed and previous is not None and previous[0] and t - previous[1] < 2000:
            lines["%d,%d,%d" % (user, previous[1], t)] += 1
        last[user] = (failed, t)
    return lines


def cep(cluster, jobs, work):
    """CEP state (partial matches in keyed state) through a TaskManager kill."""
    n, users = 16000, 7
    want = cep_reference(n, users)
    out = os.path.join(work, "cep")
    jid = cluster.submit("CepLoginFail", [jobs, "--n", str(n), "--users", str(users), "--rate", "2000",
                                          "--output", out], 2)
    if not jid:
        return
    if not check(wait_for(lambda: cluster.completed_checkpoints(jid) >= 2, 60),
                 "[cep] the job runs and completes checkpoints"):
        return
    cluster.kill_and_replace(jid, "[cep]")
    check(cluster.wait_state(jid, ("FINISHED", "FAILED", "CANCELED"), 120) and cluster.state(jid) == "FINISHED",
          "[cep] the job with a kill finishes (state %s)" % cluster.state(jid))
    check(cluster.failures_recorded(jid) >= 1, "[cep] the failure is in the exception history")
    got = committed(out)
    check(got == want, "[cep] after a kill and restore, no match is lost or duplicated (%d matches)" %
          sum(want.values()), diff(got, want))


def at_least_once(cluster, jobs, work):
    """AT_LEAST_ONCE: barriers are not aligned, so after a restore records that
    overtook a barrier are counted again. Nothing is lost: every window of the
    reference is committed with at least its count and sum."""
    n, keys, rate = 12000, 7, 2000
    out = os.path.join(work, "at-least-once")
    jid = cluster.submit("WindowTotals", [jobs, "--n", str(n), "--keys", str(keys), "--rate", str(rate),
                                           "--interval", "300", "--output", out], 4,
                 ["-D", "execution.checkpointing.mode=AT_LEAST_ONCE"])
    if not jid:
        return
    if not check(wait_for(lambda: cluster.state(jid) == "RUNNING" and cluster.completed_checkpoints(jid) >= 2, 60),
                 "[at-least-once] the job runs and has completed checkpoints"):
        return
    check(cluster.kill_busy_taskmanager() is not None, "[at-least-once] kill -9 a TaskManager running the job")
    r = cluster.script("taskmanager.sh", "start")
    check(r.returncode == 0 and cluster.wait_taskmanagers(2), "[at-least-once] a replacement registered")
    check(cluster.wait_state(jid, ("FINISHED", "FAILED"), 120) and cluster.state(jid) == "FINISHED",
          "[at-least-once] the job finishes")
    best = {}
    for line in committed(out):
        k, end, c, s = (int(x) for x in line.split(","))
        best[(k, end)] = max(best.get((k, end), (0, 0)), (c, s))
    lost = []
    over = 0
    for line in windows_reference(n, keys):
        k, end, c, s = (int(x) for x in line.split(","))
        got = best.get((k, end), (0, 0))
        if got[0] < c or got[1] < s:
            lost.append(line)
        elif got != (c, s):
            over += 1
    check(not lost, "[at-least-once] no window lost a record (%d windows counted some records twice)" % over,
          lost[:5])


def savepoints(cluster, jobs, work):
    n, keys, rate = 16000, 7, 2000
    argv = [jobs, "--n", str(n), "--keys", str(keys), "--rate", str(rate), "--interval", "500"]
    reference = windows_reference(n, keys)
    outputs = []
    restore = None
    for step, (parallelism, last) in enumerate(((4, False), (2, False), (4, True))):
        out = os.path.join(work, "windows-%d" % step)
        outputs.append(out)
        extra = ["-s", restore] if restore else []
        jid = cluster.submit("WindowTotals", argv + ["--output", out], parallelism, extra)
        if not jid:
            return
        if last:
            check(cluster.wait_state(jid, ("FINISHED", "FAILED"), 120) and cluster.state(jid) == "FINISHED",
                  "run %d (-p %d) restored from the savepoint finishes" % (step + 1, parallelism))
            break
        check(cluster.wait_state(jid, ("RUNNING",), 30), "run %d (-p %d) is running" % (step + 1, parallelism))
        time.sleep(2.5)
        target = os.path.join(work, "savepoints-%d" % step)
        r = cluster.eddy("stop", "-p", target, jid)
        m = SAVEPOINT.search(r.stdout)
        if not check(r.returncode == 0 and m, "eddy stop -p takes a savepoint of run %d" % (step + 1), r.describe()):
            return
        check(cluster.wait_state(jid, ("FINISHED",), 60), "run %d finishes after the stop" % (step + 1))
        path = m.group(1)
        check(os.path.exists(os.path.join(path, "_metadata")), "the savepoint has a _metadata file")
        if step == 0:  # a savepoint directory is relocatable
            moved = os.path.join(work, "moved", os.path.basename(path))
            os.makedirs(os.path.dirname(moved))
            shutil.move(path, moved)
            path = moved
        restore = path
    lines = committed(outputs[0]) + committed(outputs[1]) + committed(outputs[2])
    check(lines == reference, "window results over two savepoints, 4 → 2 → 4, equal the reference",
          diff(lines, reference))
    check(all(sum(committed(o).values()) > 0 for o in outputs[:2]), "each stopped run committed results")
    return restore


def bad_input(cluster, jobs, examples, work, savepoint):
    # A truncated _metadata.
    broken = os.path.join(work, "broken-savepoint")
    shutil.copytree(savepoint, broken)
    meta = os.path.join(broken, "_metadata")
    with open(meta, "rb") as f:
        data = f.read()
    with open(meta, "wb") as f:
        f.write(data[: len(data) // 2])
    out = os.path.join(work, "bad-1")
    jid = cluster.submit("WindowTotals", [jobs, "--output", out], 2, ["-s", broken])
    if jid:
        check(cluster.wait_state(jid, ("FAILED",), 30), "restoring a truncated _metadata fails the job")
        status, body = rest(cluster.rest_port, "/jobs/%s/exceptions" % jid)
        text = json.dumps(body)
        check("_metadata" in text, "the error names the _metadata file", text[:300])
    # A savepoint of another job's graph, without -n.
    text_file = os.path.join(work, "words.txt")
    with open(text_file, "w") as f:
        f.write("a b c\n")
    r = cluster.eddy("run", "-p", "1", "-s", savepoint, "-c", "WordCount", examples, "--input", text_file,
                     "--output", os.path.join(work, "bad-2"))
    check(r.returncode != 0 and "allowNonRestoredState" in (r.stdout + r.stderr),
          "restoring another job's savepoint without -n fails and points at --allowNonRestoredState", r.describe())
    r = cluster.eddy("run", "-p", "1", "-s", savepoint, "-n", "-c", "WordCount", examples, "--input", text_file,
                     "--output", os.path.join(work, "bad-3"))
    check(r.returncode == 0, "with -n it runs", r.describe())
    # A checkpoint directory that cannot be written (below a regular file,
    # which fails even for root).
    blocker = os.path.join(work, "not-a-directory")
    with open(blocker, "w") as f:
        f.write("x")
    jid = cluster.submit("ExactlyOnceTotals", [jobs, "--n", "4000", "--rate", "1000", "--output",
                                                os.path.join(work, "bad-4")], 1,
                 ["-D", "state.checkpoints.dir=" + os.path.join(blocker, "checkpoints"),
                  "-D", "restart-strategy.type=none"])
    if jid:
        check(cluster.wait_state(jid, ("FAILED",), 60), "an unwritable checkpoint directory fails the job")
        status, body = rest(cluster.rest_port, "/jobs/%s/exceptions" % jid)
        text = json.dumps(body)
        check("not-a-directory" in text, "the error names the checkpoint directory", text[:400])
    # The cluster keeps running.
    r = cluster.eddy("run", "-p", "2", "-c", "WordCount", examples, "--input", text_file,
                     "--output", os.path.join(work, "after"))
    check(r.returncode == 0, "the cluster still runs a job after the bad input", r.describe())


def main():
    parser = argparse.ArgumentParser()
    dist_cluster.add_arguments(parser)
    parser.add_argument("--test-jobs", required=True)
    parser.add_argument("--scenarios", default="kills,cep,savepoints", help="comma-separated subset to run")
    args = parser.parse_args()
    with dist_cluster.installed_cluster(args, "eddy-ft-e2e-") as (cluster, work):
        if cluster is None:
            return 1
        if "kills" in args.scenarios:
            for backend in ("hashmap", "rocksdb"):
                kills(cluster, args.test_jobs, work, backend)
            at_least_once(cluster, args.test_jobs, work)
        if "cep" in args.scenarios:
            cep(cluster, args.test_jobs, work)
        savepoint = savepoints(cluster, args.test_jobs, work) if "savepoints" in args.scenarios else None
        if savepoint:
            bad_input(cluster, args.test_jobs, os.path.join(cluster.dist, "examples", "libeddy-examples.so"), work,
                      savepoint)
    return dist_cluster.exit_code()


if __name__ == "__main__":
    sys.exit(main())
