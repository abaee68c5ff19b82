"""A standalone cluster of an installed distribution, for end-to-end tests:
installed with `cmake --install`, configured on free ports, started and
stopped with the bin/ scripts, driven with the `eddy` CLI and REST; plus the
ok/FAIL checks the scripts print.
"""

import collections
import contextlib
import glob
import os
import re
import shutil
import signal
import tempfile
import time

import e2e_support as e2e

JOBID = re.compile(r"JobID ([0-9a-f]{32})")
failures = []


def add_arguments(parser):
    """The options every installed-cluster test takes (tests/CMakeLists.txt passes them)."""
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--cmake", default="cmake")
    parser.add_argument("--cxx", default="")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")


@contextlib.contextmanager
def installed_cluster(args, prefix):
    """Installs the distribution in a new temporary directory and starts its
    cluster; yields (cluster, work directory), the cluster None if it did not
    start. Afterwards stops it and removes the directory (unless --keep)."""
    tmp = os.path.realpath(tempfile.mkdtemp(prefix=prefix))
    work = os.path.join(tmp, "work")
    os.makedirs(work)
    cluster = None
    try:
        cluster = Cluster.install(args.cmake, args.build_dir, tmp)
        yield (cluster if cluster.start() else None), work
    finally:
        if cluster:
            cluster.stop()
        if args.keep:
            print("kept " + tmp, flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def exit_code():
    """Prints how many checks failed; the script's exit code."""
    print("%d failure(s)" % len(failures), flush=True)
    return 1 if failures else 0


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
        if detail:
            print("    " + str(detail).replace("\n", "\n    "), flush=True)
    return cond


def totals_reference(n, keys):
    """The "key,count,sum" line RunningTotals emits for every one of n records
    (i % keys, i), computed directly."""
    lines = collections.Counter()
    count, total = {}, {}
    for i in range(n):
        k = i % keys
        count[k] = count.get(k, 0) + 1
        total[k] = total.get(k, 0) + i
        lines["%d,%d,%d" % (k, count[k], total[k])] += 1
    return lines


def committed(out_dir):
    """The lines of every committed part file under out_dir, as a multiset."""
    lines = collections.Counter()
    for path in glob.glob(os.path.join(out_dir, "**", "part-*"), recursive=True):
        with open(path) as f:
            lines.update(line.rstrip("\n") for line in f)
    return lines


def diff(got, want):
    """What differs between two multisets of lines, briefly."""
    extra, missing = got - want, want - got
    return "%d lines extra %s, %d missing %s" % (sum(extra.values()), list(extra.items())[:5],
                                                 sum(missing.values()), list(missing.items())[:5])


def pid_listening_on(port):
    """The pid of the process with a listening TCP socket on `port` (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
        except OSError:
            pass
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir("/proc/%s/fd" % pid):
                link = os.readlink("/proc/%s/fd/%s" % (pid, fd))
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(pid)
        except OSError:
            continue
    return None


class Cluster:
    def __init__(self, dist, env, rest_port, rpc_port):
        self.dist, self.env, self.rest_port, self.rpc_port = dist, env, rest_port, rpc_port
        self.bin = os.path.join(dist, "bin")

    @staticmethod
    def install(cmake, build_dir, tmp, taskmanagers=2, extra_config=""):
        """Installs the distribution under tmp/dist, configures one JobManager
        and `taskmanagers` TaskManagers (2 slots each) on free ports, with
        checkpoints under tmp/checkpoints. Not started yet."""
        dist = os.path.join(tmp, "dist")
        e2e.install_distribution(cmake, build_dir, dist)
        rpc_port, rest_port = e2e.free_port(), e2e.free_port()
        with open(os.path.join(dist, "conf", "config.yaml"), "a") as f:
            f.write("\n# ---- end-to-end test ----\n"
                    "jobmanager.rpc.address: localhost\n"
                    "jobmanager.rpc.port: %d\n"
                    "rest.port: %d\n"
                    "taskmanager.numberOfTaskSlots: 2\n"
                    "heartbeat.interval: 500 ms\n"
                    "heartbeat.timeout: 3 s\n"
                    "slot.request.timeout: 20 s\n"
                    "state.checkpoints.dir: file://%s\n"
                    "restart-strategy.fixed-delay.delay: 500 ms\n" % (rpc_port, rest_port,
                                                                      os.path.join(tmp, "checkpoints")))
            f.write(extra_config)
        with open(os.path.join(dist, "conf", "masters"), "w") as f:
            f.write("localhost:%d\n" % rest_port)
        with open(os.path.join(dist, "conf", "workers"), "w") as f:
            f.write("localhost\n" * taskmanagers)
        env = e2e.hermetic_env()
        for var in ("EDDY_CONF_DIR", "EDDY_LOG_DIR", "EDDY_IDENT_STRING"):
            env.pop(var, None)
        env["EDDY_PID_DIR"] = os.path.join(tmp, "pids")
        return Cluster(dist, env, rest_port, rpc_port)

    def start(self, taskmanagers=2):
        r = self.script("start-cluster.sh")
        return check(r.returncode == 0 and self.wait_taskmanagers(taskmanagers),
                     "the cluster starts with %d TaskManagers" % taskmanagers, r.describe())

    def stop(self):
        self.script("stop-cluster.sh")
        if failures:
            for log in sorted(glob.glob(os.path.join(self.dist, "log", "*.log"))):
                with open(log, errors="replace") as f:
                    tail = f.readlines()[-25:]
                print("---- %s\n%s" % (log, "".join(tail)), flush=True)

    def script(self, name, *argv, timeout=60):
        return e2e.run([os.path.join(self.bin, name)] + list(argv), timeout=timeout, env=self.env)

    def eddy(self, *argv, timeout=300):
        return e2e.run([os.path.join(self.bin, "eddy")] + list(argv), timeout=timeout, env=self.env)

    def taskmanagers(self):
        status, body = e2e.rest_get(self.rest_port, "/taskmanagers")
        return body["taskmanagers"] if status == 200 else []

    def wait_taskmanagers(self, n, timeout=30):
        return e2e.wait_for(lambda: len(self.taskmanagers()) == n, timeout)

    def job(self, jid):
        status, body = e2e.rest_get(self.rest_port, "/jobs/" + jid)
        return body if status == 200 else None

    def state(self, jid):
        job = self.job(jid)
        return job["state"] if job else None

    def completed_checkpoints(self, jid):
        status, body = e2e.rest_get(self.rest_port, "/jobs/%s/checkpoints" % jid)
        return body["counts"]["completed"] if status == 200 else 0

    def wait_state(self, jid, states, timeout):
        return e2e.wait_for(lambda: self.state(jid) in states, timeout)

    def wait_running(self, jid, timeout=60):
        """Until the job and every one of its vertices is RUNNING."""
        def running():
            job = self.job(jid)
            return (job is not None and job["state"] == "RUNNING" and len(job["vertices"]) > 0 and
                    all(v["status"] == "RUNNING" for v in job["vertices"]))
        return e2e.wait_for(running, timeout, step=0.1)

    def kill_busy_taskmanager(self):
        """kill -9 a TaskManager that holds slots; returns its pid."""
        busy = [tm for tm in self.taskmanagers() if tm["freeSlots"] < tm["slotsNumber"]]
        if not busy:
            return None
        pid = pid_listening_on(busy[0]["dataPort"])
        if pid:
            os.kill(pid, signal.SIGKILL)
        return pid

    def exception_text(self, jid):
        """Everything the job's exception history says, as one text."""
        status, body = e2e.rest_get(self.rest_port, "/jobs/%s/exceptions" % jid)
        entries = (body or {}).get("exceptionHistory", {}).get("entries", [])
        return "\n".join(e.get("exceptionName", "") + " " + e.get("stacktrace", "") for e in entries) + \
            str((body or {}).get("root-exception", ""))

    def failures_recorded(self, jid):
        status, body = e2e.rest_get(self.rest_port, "/jobs/%s/exceptions" % jid)
        return len((body or {}).get("exceptionHistory", {}).get("entries", []))

    def kill_and_replace(self, jid, what, ready=None):
        """kill -9 a TaskManager running `jid` (once `ready()` returns), wait
        until the JobManager records the failure and the job runs again, and
        start a replacement TaskManager. Returns True if one was killed."""
        before = self.failures_recorded(jid)
        if ready is not None:
            ready()
        pid = self.kill_busy_taskmanager()
        if not check(pid is not None, "%s: kill -9 a TaskManager running the job (pid %s)" % (what, pid)):
            return False
        started = time.time()
        check(e2e.wait_for(lambda: self.failures_recorded(jid) > before, 30, step=0.05),
              "%s: the JobManager records the failure" % what)
        check(self.wait_running(jid, 60), "%s: the job runs again after the kill" % what)
        print("    running again %.1f s after the kill" % (time.time() - started), flush=True)
        r = self.script("taskmanager.sh", "start")
        check(r.returncode == 0 and self.wait_taskmanagers(2), "%s: a replacement TaskManager registers" % what,
              r.describe())
        return True

    def submit(self, job, argv, parallelism, extra=()):
        """eddy run -d; returns the job id (None, with a FAIL, if it failed)."""
        r = self.eddy("run", "-d", "-p", str(parallelism), *extra, "-c", job, *argv)
        m = JOBID.search(r.stdout)
        check(r.returncode == 0 and m is not None, "%s -p %d submitted" % (job, parallelism), r.describe())
        return m.group(1) if m else None
