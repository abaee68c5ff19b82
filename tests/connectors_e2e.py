#!/usr/bin/env python3
"""Connectors against real servers, on the daemons of an installed distribution.

Each scenario starts its own server on a free loopback port (redis-server,
PostgreSQL from initdb in a temporary directory) and a job of
libeddy-connector-test-jobs.so: one slow generator -> running count and sum
per key ("key,count,sum" lines) -> the connector's sink, with checkpoints.

1. Redis (SET totals, an idempotent upsert): a TaskManager running the job is
   killed with kill -9 and replaced; afterwards every key holds what a
   failure-free run left and what a computation here predicts.
2. PostgreSQL exactly-once sink (two-phase commit): the test watches
   pg_prepared_xacts and kills the TaskManager while a transaction is
   prepared and not yet committed. After recovery the table holds every
   expected line exactly once and no prepared transaction is left.
3. Kafka (librdkafka's mock cluster, started with bin/eddy-kafka-mock; kcat
   produces and reads): Kafka -> running totals -> Kafka at -p 2.
   - Exactly-once without failures: a read_committed consumer sees every
     expected line exactly once.
   - At-least-once with a kill: while the job waits to restart, the consumer
     group's committed offsets are moved to the end of the input with kcat;
     the restarted source still resumes from its checkpoint, so no line is
     lost. Lines after the last checkpoint are written twice, as
     at-least-once allows; the test counts them.
   - Exactly-once with a kill: no line is lost. This mock writes no
     transaction markers (read_committed consumers also see records of
     aborted transactions), so it cannot show that none is duplicated; the
     test prints how many extra lines it sees.
   - A record that is not a number: skipped and counted in the REST metric
     numSkippedRecords, or failing the job with its offset.
4. Files: FileSource watching a directory -> the exactly-once file sink. Files
   are renamed into the directory while the job runs and a TaskManager is
   killed; every line of every file is committed exactly once.
5. Bad input: a table that does not exist, and unreachable servers, fail the
   job with errors that name them; the cluster keeps running jobs.
"""

import argparse
import collections
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "connectors", "redis"))
sys.path.insert(0, os.path.join(HERE, "..", "connectors", "postgres"))
import dist_cluster  # noqa: E402
import e2e_support as e2e  # noqa: E402
from dist_cluster import check, committed, diff, totals_reference  # noqa: E402
from postgres_server import PostgresServer  # noqa: E402
from redis_server import RedisServer  # noqa: E402


def final_totals(n, keys):
    """key -> "count,sum" after all n records."""
    out = {}
    for k in range(keys):
        members = range(k, n, keys)
        out[str(k)] = "%d,%d" % (len(members), sum(members))
    return out


# ---------------------------------------------------------------- scenarios

def redis(cluster, jobs, work):
    n, keys, rate = 12000, 11, 2000
    want = final_totals(n, keys)
    with RedisServer() as server:
        common = [jobs, "--n", str(n), "--keys", str(keys), "--rate", str(rate), "--interval", "300",
                  "--redis-port", str(server.port)]
        jid = cluster.submit("RedisTotals", common + ["--prefix", "clean:"], 2)
        check(jid and cluster.wait_state(jid, ("FINISHED", "FAILED"), 120) and cluster.state(jid) == "FINISHED",
              "[redis] the failure-free run finishes")
        clean = {str(k): server.get("clean:%d" % k) for k in range(keys)}
        check(clean == want, "[redis] failure-free values equal the reference", (clean, want))

        jid = cluster.submit("RedisTotals", common + ["--prefix", "killed:"], 2)
        if not jid:
            return
        if not check(e2e.wait_for(lambda: cluster.completed_checkpoints(jid) >= 2, 60),
                     "[redis] the job runs and completes checkpoints"):
            return
        cluster.kill_and_replace(jid, "[redis]")
        check(cluster.wait_state(jid, ("FINISHED", "FAILED", "CANCELED"), 120) and cluster.state(jid) == "FINISHED",
              "[redis] the job with a kill finishes (state %s)" % cluster.state(jid))
        killed = {str(k): server.get("killed:%d" % k) for k in range(keys)}
        check(killed == want, "[redis] values after a kill and recovery equal the reference", (killed, want))
        check(killed == clean, "[redis] values after a kill equal the failure-free run")


class PreparedWatcher:
    """One psql session asked again and again how many transactions are prepared."""

    def __init__(self, server):
        self.proc = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-d", server.dsn], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)

    def prepared(self):
        self.proc.stdin.write("SELECT count(*) FROM pg_prepared_xacts;\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


def postgres(cluster, jobs, work):
    n, keys, rate = 12000, 11, 2000
    want = totals_reference(n, keys)
    with PostgresServer() as server:
        server.query("CREATE TABLE totals (k bigint, cnt bigint, total bigint)")
        common = [jobs, "--n", str(n), "--keys", str(keys), "--rate", str(rate), "--interval", "300",
                  "--pg-port", str(server.port), "--pg-user", "eddy"]
        jid = cluster.submit("PostgresTotals", common, 2)
        if not jid:
            return
        if not check(e2e.wait_for(lambda: cluster.completed_checkpoints(jid) >= 2, 60),
                     "[postgres] the job runs and completes checkpoints"):
            return
        watcher = PreparedWatcher(server)
        seen = []

        def prepared_now():
            deadline = time.time() + 20
            while time.time() < deadline:
                count = watcher.prepared()
                if count > 0:
                    seen.append(count)
                    return
        cluster.kill_and_replace(jid, "[postgres]", ready=prepared_now)
        watcher.close()
        check(bool(seen), "[postgres] the kill came while %s transaction(s) were prepared, not committed" %
              (seen[0] if seen else "no"))
        check(cluster.wait_state(jid, ("FINISHED", "FAILED", "CANCELED"), 120) and cluster.state(jid) == "FINISHED",
              "[postgres] the job with a kill finishes (state %s)" % cluster.state(jid))
        rows = collections.Counter(",".join(r) for r in server.query("SELECT k, cnt, total FROM totals"))
        check(rows == want, "[postgres] the table holds every expected row exactly once", diff(rows, want))
        left = server.query("SELECT gid FROM pg_prepared_xacts")
        check(left == [], "[postgres] no prepared transaction is left", left)

        # Bad input: a table that does not exist.
        jid = cluster.submit("PostgresTotals", common + ["--table", "no_such_table", "--n", "100"], 1)
        if jid:
            check(e2e.wait_for(lambda: "no_such_table" in cluster.exception_text(jid), 60),
                  "[postgres] a missing table fails the job with an error naming it",
                  cluster.exception_text(jid)[:600])
            cluster.eddy("cancel", jid)


class KafkaMock:
    """bin/eddy-kafka-mock with topics `in` and `out` of 2 partitions each; it
    stops when its stdin closes."""

    def __init__(self, cluster):
        self.proc = subprocess.Popen([os.path.join(cluster.bin, "eddy-kafka-mock"), "--brokers", "1",
                                      "--topic", "in:2", "--topic", "out:2"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("bootstrap.servers="):
            raise RuntimeError("eddy-kafka-mock printed %r" % line)
        self.servers = line.split("=", 1)[1]

    def kcat(self, *argv, stdin=None, timeout=60):
        return subprocess.run(["kcat", "-b", self.servers, "-q"] + list(argv), input=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)

    def produce(self, partition, values):
        r = self.kcat("-P", "-t", "in", "-p", str(partition), stdin="".join("%s\n" % v for v in values))
        if r.returncode != 0:
            raise RuntimeError("kcat -P failed: " + r.stderr)

    def output(self):
        """Every value of topic `out`, as a read_committed consumer sees them."""
        r = self.kcat("-C", "-t", "out", "-e", "-X", "isolation.level=read_committed", "-f", "%s\n")
        return collections.Counter(r.stdout.splitlines())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


def kafka_input(mock, n, keys, bad=()):
    """Record i goes to partition (i % keys) % 2, so that each key's records
    keep their order; `bad` values are written first to partition 0."""
    for p in (0, 1):
        values = list(bad) if p == 0 else []
        values += [i for i in range(n) if (i % keys) % 2 == p]
        mock.produce(p, values)


def kafka(cluster, jobs, work):
    n, keys, rate = 8000, 11, 800
    want = totals_reference(n, keys)

    def run(guarantee, kill, extra_conf=()):
        mock = KafkaMock(cluster)
        try:
            kafka_input(mock, n, keys)
            group = "totals-" + guarantee
            argv = [jobs, "--bootstrap-servers", mock.servers, "--guarantee", guarantee, "--keys", str(keys),
                    "--rate", str(rate), "--interval", "300", "--group", group]
            what = "[kafka %s%s]" % (guarantee, " kill" if kill else "")
            jid = cluster.submit("KafkaTotals", argv, 2, ["-D", "restart-strategy.fixed-delay.delay=8 s"])
            if not jid:
                return None, what
            if kill:
                if not check(e2e.wait_for(lambda: cluster.completed_checkpoints(jid) >= 2, 60),
                             what + " the job runs and completes checkpoints"):
                    return None, what

                # Half a checkpoint interval after a checkpoint: records
                # written since then will be replayed.
                done = cluster.completed_checkpoints(jid)
                e2e.wait_for(lambda: cluster.completed_checkpoints(jid) > done, 10, step=0.02)
                time.sleep(0.15)
                pid = cluster.kill_busy_taskmanager()
                killed = time.time()
                check(pid is not None, what + " kill -9 a TaskManager running the job")
                # While the job waits 8 s to restart: move the group's committed
                # offsets to the end of the input. A source that resumed from
                # them would lose every record after its checkpoint.
                r = mock.kcat("-G", group, "-e", "in", timeout=30)
                check(r.returncode == 0, what + " kcat commits the group's offsets at the end of the input",
                      r.stderr[-500:])
                check(time.time() - killed < 7, what + " the offsets moved before the restart (%.1f s after the "
                      "kill)" % (time.time() - killed))
                r = cluster.script("taskmanager.sh", "start")
                check(r.returncode == 0 and cluster.wait_taskmanagers(2), what + " a replacement registers",
                      r.describe())
            check(cluster.wait_state(jid, ("FINISHED", "FAILED", "CANCELED"), 120) and
                  cluster.state(jid) == "FINISHED", what + " the job finishes (state %s)" % cluster.state(jid))
            return mock.output(), what
        finally:
            mock.close()

    got, what = run("exactly-once", kill=False)
    if got is not None:
        check(got == want, what + " a read_committed consumer sees every expected line exactly once",
              diff(got, want))
    got, what = run("at-least-once", kill=True)
    if got is not None:
        check(set(got) == set(want), what + " no line is lost: the source resumed from its checkpoint, "
              "not from the group's offsets", diff(got, want))
        duplicated = sum((got - want).values())
        print("    at-least-once wrote %d line(s) twice after the kill" % duplicated, flush=True)
        check(duplicated > 0 and not (got - want).keys() - want.keys(),
              what + " the only extra lines are repeats of expected ones (%d)" % duplicated)
    got, what = run("exactly-once", kill=True)
    if got is not None:
        check(set(got) == set(want), what + " no line is lost", diff(got, want))
        print("    read_committed sees %d extra line(s): the mock cluster keeps aborted transactions "
              "visible (no transaction markers)" % sum((got - want).values()), flush=True)


def kafka_bad_records(cluster, jobs, work):
    n, keys, bad = 3000, 5, ["x1", "12z", "-"]
    mock = KafkaMock(cluster)
    try:
        kafka_input(mock, n, keys, bad)
        argv = [jobs, "--bootstrap-servers", mock.servers, "--guarantee", "at-least-once", "--keys", str(keys),
                "--rate", "1000", "--on-error", "skip"]
        jid = cluster.submit("KafkaTotals", argv, 2)
        if jid:
            source = next((v["id"] for v in cluster.job(jid)["vertices"] if "kafka" in v["name"].lower()), None)

            def skipped():
                status, body = e2e.rest_get(cluster.rest_port, "/jobs/%s/vertices/%s/subtasks/metrics"
                                            "?get=numSkippedRecords" % (jid, source))
                return body[0]["sum"] if status == 200 and body else None
            check(e2e.wait_for(lambda: skipped() == len(bad), 30),
                  "[kafka] skip mode: REST numSkippedRecords is %d (got %s)" % (len(bad), skipped()))
            check(cluster.wait_state(jid, ("FINISHED", "FAILED"), 60) and cluster.state(jid) == "FINISHED",
                  "[kafka] skip mode: the job finishes")
            got = mock.output()
            check(got == totals_reference(n, keys), "[kafka] skip mode: the good records give the reference",
                  diff(got, totals_reference(n, keys)))
        argv[argv.index("skip")] = "fail"
        jid = cluster.submit("KafkaTotals", argv, 1)
        if jid:
            check(e2e.wait_for(lambda: "partition 0 offset 0" in cluster.exception_text(jid), 30),
                  "[kafka] fail mode: the error names the record's topic, partition and offset",
                  cluster.exception_text(jid)[:600])
            cluster.eddy("cancel", jid)
    finally:
        mock.close()


def files(cluster, jobs, work):
    inbox, out = os.path.join(work, "inbox"), os.path.join(work, "files-out")
    os.makedirs(inbox)
    want = collections.Counter()

    def drop(index, lines=400):
        """Writes file `index` beside the directory and renames it in."""
        values = ["f%d-%d" % (index, i) for i in range(lines)]
        want.update(values)
        path = os.path.join(work, "file-%d.txt" % index)
        with open(path, "w") as f:
            f.write("".join(v + "\n" for v in values))
        os.rename(path, os.path.join(inbox, "sub%d" % (index % 3), "file-%d.txt" % index))

    for d in range(3):
        os.makedirs(os.path.join(inbox, "sub%d" % d))
    for i in range(5):
        drop(i)
    jid = cluster.submit("FilesCopy", [jobs, "--input", inbox, "--output", out], 2)
    if not jid:
        return
    check(e2e.wait_for(lambda: cluster.completed_checkpoints(jid) >= 2, 60), "[files] the job completes checkpoints")
    for i in range(5, 15):
        drop(i)
        time.sleep(0.1)
    cluster.kill_and_replace(jid, "[files]")
    for i in range(15, 25):
        drop(i)
        time.sleep(0.1)

    e2e.wait_for(lambda: sum(committed(out).values()) >= sum(want.values()), 60)
    time.sleep(1)  # a few more checkpoints: nothing more may appear
    got = committed(out)
    check(got == want, "[files] every line of the %d files is committed exactly once" % 25, diff(got, want))
    r = cluster.eddy("cancel", jid)
    check(r.returncode == 0, "[files] the watching job is cancelled", r.describe())


def unreachable(cluster, jobs, work):
    port = e2e.free_port()
    for job, option, what in (("RedisTotals", "--redis-port", "redis"), ("PostgresTotals", "--pg-port", "postgres")):
        jid = cluster.submit(job, [jobs, "--n", "100", option, str(port)], 1)
        if not jid:
            continue
        address = "127.0.0.1:%d" % port
        check(e2e.wait_for(lambda: address in cluster.exception_text(jid), 60),
              "[%s] an unreachable server fails the job with an error naming %s" % (what, address),
              cluster.exception_text(jid)[:600])
        r = cluster.eddy("cancel", jid)
        check(r.returncode == 0 and cluster.wait_state(jid, ("CANCELED",), 30),
              "[%s] the restarting job can be cancelled" % what, r.describe())


def main():
    parser = argparse.ArgumentParser()
    dist_cluster.add_arguments(parser)
    parser.add_argument("--jobs", required=True, help="libeddy-connector-test-jobs.so")
    parser.add_argument("--scenarios", default="redis,postgres,kafka,kafka_bad_records,files,unreachable")
    args = parser.parse_args()
    scenarios = {"redis": redis, "postgres": postgres, "kafka": kafka, "kafka_bad_records": kafka_bad_records,
                 "files": files, "unreachable": unreachable}
    with dist_cluster.installed_cluster(args, "eddy-connectors-e2e-") as (cluster, work):
        if cluster is None:
            return 1
        for name in args.scenarios.split(","):
            scenarios[name](cluster, args.jobs, work)
        r = cluster.eddy("list")
        check(r.returncode == 0, "the cluster still answers after the scenarios", r.describe())
    return dist_cluster.exit_code()


if __name__ == "__main__":
    sys.exit(main())
