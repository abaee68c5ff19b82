#!/usr/bin/env python3
"""Runs the Nexmark queries on a real cluster and prints a table.

Installs the distribution from the build tree, starts a JobManager and one
TaskManager (2 slots) with the bin/ scripts, and runs each query of
libeddy-nexmark.so over --events generated events at --parallelism, with an
exactly-once checkpoint every 10 s, on the hashmap and the rocksdb backend.
Per run it reports:

  events/s        events / (last source emit - first source emit), from the
                  files the sources write into --stats-dir
  events/s/core   events / CPU seconds (utime + stime) of the TaskManager
                  process over the whole job
  p50/p99 latency of the results: sink time - creation time of the newest
                  event a result depends on (histograms from the sinks)
  peak RSS        VmHWM of the TaskManager (reset before each run)
  baseline        the hand-written single-threaded reference
                  (nexmark_reference) over the same events, and how many
                  times slower than it the engine is per core: baseline
                  events/s / engine events/s per core (target: at most 3)

--latency then runs q0 and q5 at half the rate measured for them (hashmap)
with execution.buffer-timeout = 1 ms, for --latency-seconds, and cancels
them (so windows are not flushed by the end of the input); it reports
p50/p99/p99.9.

  bench/nexmark/run_nexmark.py --build build [--events N] [--quick] [--latency]

--check runs every query instead on the same cluster with --output and
compares what the file sink committed with nexmark_reference --print over
the same events (creation times left out): as multisets, q4 by the final
average of each category (with every count 1..n seen), q12 by each bidder's
total. It prints ok/FAIL per query and exits 1 on any difference.
"""

import argparse
import collections
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))
import dist_cluster  # noqa: E402
import e2e_support as e2e  # noqa: E402

QUERIES = ["q0", "q1", "q2", "q3", "q4", "q5", "q7", "q8", "q11", "q12"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def install_skipping_unbuilt(cmake, build_dir, prefix):
    """cmake --install; in a shared build tree where some other component's
    installed files are not built yet, installs everything else instead (the
    root install script without the subdirectories whose files are missing)."""
    try:
        return e2e.install_distribution(cmake, build_dir, prefix)
    except RuntimeError:
        pass
    with open(os.path.join(build_dir, "cmake_install.cmake")) as f:
        root = f.read()
    skipped = []

    def keep(match):
        with open(match.group(1)) as f:
            missing = [p for p in re.findall(r'"(/[^"]+)"', f.read())
                       if p.startswith(build_dir) and not p.endswith("cmake_install.cmake") and not os.path.exists(p)]
        if missing:
            skipped.append(os.path.relpath(os.path.dirname(match.group(1)), build_dir))
            return ""
        return match.group(0)

    script = os.path.join(prefix + "-install.cmake")
    os.makedirs(prefix, exist_ok=True)
    with open(script, "w") as f:
        f.write(re.sub(r'include\("([^"]+/cmake_install\.cmake)"\)', keep, root))
    r = e2e.run([cmake, "-DCMAKE_INSTALL_PREFIX=" + prefix, "-P", script], timeout=300)
    if r.returncode != 0:
        raise RuntimeError("installing the distribution failed\n" + r.describe())
    if skipped:
        print("note: not installed (not built): " + ", ".join(skipped), flush=True)


# Cluster.install installs through e2e.install_distribution.
dist_cluster.e2e.install_distribution = install_skipping_unbuilt


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss(pid):
    """Resets VmHWM (Linux: writing 5 to clear_refs); False if not allowed."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def source_rate(stats_dir):
    """Events per second over all source subtasks, from their stats files."""
    first, last, events = None, None, 0
    for path in glob.glob(os.path.join(stats_dir, "source-*.txt")):
        with open(path) as f:
            a, b, n = (int(x) for x in f.read().split())
        first = a if first is None else min(first, a)
        last = b if last is None else max(last, b)
        events += n
    if first is None or last <= first:
        return events, float("nan")
    return events, events / ((last - first) / 1e6)


def latency_percentiles(stats_dir, quantiles):
    """Quantiles (in ms) of the merged latency histograms; NaN without results."""
    buckets = {}
    for path in glob.glob(os.path.join(stats_dir, "latency-*.txt")):
        with open(path) as f:
            for line in f:
                lower, upper, count = (int(x) for x in line.split())
                buckets[(lower, upper)] = buckets.get((lower, upper), 0) + count
    total = sum(buckets.values())
    out = []
    for q in quantiles:
        if total == 0:
            out.append(float("nan"))
            continue
        seen, rank = 0, q * total
        for (lower, upper), count in sorted(buckets.items()):
            seen += count
            if seen >= rank:
                out.append((lower + upper) / 2 / 1000)
                break
    return out


def baseline_rate(build, query, events, time_rate, cache={}):
    key = (query, events, time_rate)
    if key not in cache:
        r = e2e.run([os.path.join(build, "bench", "nexmark", "nexmark_reference"), "--query", query,
                     "--events", str(events), "--time-rate", str(time_rate)], timeout=600)
        if r.returncode != 0:
            raise SystemExit("the reference failed\n" + r.describe())
        cache[key] = float(re.search(r"events_per_second=([0-9.]+)", r.stdout).group(1))
    return cache[key]


def run_query(cluster, tm_pid, library, query, backend, args, stats_dir, extra_args=(), config=(), cancel_after=None):
    """One job; returns a dict of its figures. With cancel_after (seconds) the
    job is submitted detached and cancelled after that long."""
    shutil.rmtree(stats_dir, ignore_errors=True)
    os.makedirs(stats_dir)
    reset_peak_rss(tm_pid)
    cpu_before = cpu_seconds(tm_pid)
    d = ["-D", "state.backend.type=" + backend,
         "-D", "execution.checkpointing.interval=%d ms" % args.checkpoint_interval_ms,
         "-D", "execution.checkpointing.mode=EXACTLY_ONCE"]
    for item in config:
        d += ["-D", item]
    program = "NexmarkQ" + query[1:]
    started = time.time()
    detach = ["-d"] if cancel_after else []
    r = cluster.eddy("run", *detach, "-p", str(args.parallelism), *d, "-c", program, library,
                     "--events", str(args.events), "--time-rate", str(args.time_rate),
                     "--stats-dir", stats_dir, *extra_args, timeout=1800)
    if r.returncode != 0:
        raise SystemExit("%s on %s failed\n%s" % (query, backend, r.describe()))
    if cancel_after:
        jid = dist_cluster.JOBID.search(r.stdout).group(1)
        if not cluster.wait_running(jid):
            raise SystemExit("%s did not start running" % query)
        time.sleep(cancel_after)
        cluster.eddy("cancel", jid)
        cluster.wait_state(jid, ("CANCELED", "FAILED", "FINISHED"), 60)
    wall = time.time() - started
    cpu = cpu_seconds(tm_pid) - cpu_before
    events, rate = source_rate(stats_dir)
    p50, p99, p999 = latency_percentiles(stats_dir, (0.5, 0.99, 0.999))
    return {"query": query, "backend": backend, "events": events, "rate": rate,
            "per_core": events / cpu if cpu > 0 else float("nan"), "cpu": cpu, "wall": wall,
            "p50": p50, "p99": p99, "p999": p999, "rss": peak_rss_mb(tm_pid)}


CREATED = re.compile(r", created_us=\d+")


def result_lines(lines):
    """Result lines without their creation times, as a multiset."""
    return collections.Counter(CREATED.sub("", line) for line in lines if line)


def fields(line):
    """'nexmark::Q4Result{category=11, closed=2, ...}' -> {'category': '11', ...}"""
    body = line[line.index("{") + 1:line.rindex("}")]
    return dict(part.split("=", 1) for part in body.split(", "))


def comparable(query, lines, updates=False):
    """What must be equal between the engine's and the reference's results.
    `updates`: q4's lines are every running update (the engine), not only the
    final average of each category (the reference)."""
    if query == "q4":
        # Running averages: the last update per category, and its counts 1..n.
        by_category = collections.defaultdict(list)
        for line in lines:
            by_category[fields(line)["category"]].append(line)
        final = collections.Counter()
        for category, category_lines in by_category.items():
            counts = sorted(int(fields(u)["closed"]) for u in category_lines)
            last = max(category_lines, key=lambda u: int(fields(u)["closed"]))
            final[(last, not updates or counts == list(range(1, len(counts) + 1)))] += 1
        return final
    if query == "q12":
        totals = collections.Counter()
        for line in lines:
            f = fields(line)
            totals[f["bidder"]] += int(f["bidCount"])
        return totals
    return collections.Counter(lines)


def check_queries(cluster, build, library, queries, events, time_rate, parallelism, tmp):
    """Runs each query on the cluster with --output; compares with the reference."""
    failed = []
    common = ["--events", str(events), "--time-rate", str(time_rate), "--linger-ms", "1500", "--q12-window-ms", "500"]
    for q in queries:
        out = os.path.join(tmp, "check-" + q)
        r = cluster.eddy("run", "-p", str(parallelism), "-c", "Nexmark" + q.upper(), library, "--output", out,
                         *common, timeout=600)
        engine = collections.Counter()
        for path in glob.glob(os.path.join(out, "**", "part-*"), recursive=True):
            with open(path) as f:
                engine.update(result_lines(f.read().splitlines()))
        ref = subprocess.run([os.path.join(build, "bench", "nexmark", "nexmark_reference"), "--query", q, "--print",
                              *common], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
        want = result_lines(ref.stdout.splitlines())
        got_c = comparable(q, list(engine.elements()), updates=True)
        want_c = comparable(q, list(want.elements()))
        ok = r.returncode == 0 and ref.returncode == 0 and len(want) > 0 and got_c == want_c
        print("%s %s -p %d: %d results, equal to the reference" % ("ok  " if ok else "FAIL", q, parallelism,
                                                                     sum(engine.values())), flush=True)
        if not ok:
            failed.append(q)
            print("    run: %s\n    extra %s\n    missing %s" % (r.describe()[-800:], list((got_c - want_c).items())[:3],
                                                              list((want_c - got_c).items())[:3]), flush=True)
    return failed


def fmt_rate(v):
    if v != v:
        return "-"
    if v >= 1e6:
        return "%.2f M" % (v / 1e6)
    return "%.0f K" % (v / 1e3)


def fmt_ms(v):
    return "-" if v != v else ("%.3f" % v if v < 10 else "%.0f" % v)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--cmake", default=shutil.which("cmake") or "cmake")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--time-rate", type=int, default=100_000,
                        help="events per second of event time (how many events a window holds)")
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--queries", default=",".join(QUERIES))
    parser.add_argument("--backends", default="hashmap,rocksdb")
    parser.add_argument("--checkpoint-interval-ms", type=int, default=10_000)
    parser.add_argument("--latency", action="store_true", help="also run q0 and q5 at half their maximum rate")
    parser.add_argument("--latency-seconds", type=int, default=30)
    parser.add_argument("--check", action="store_true",
                        help="check every query's results against the reference instead of measuring")
    parser.add_argument("--quick", action="store_true",
                        help="300 000 events, checkpoints every second, 5 s latency runs (under 2 minutes)")
    args = parser.parse_args()
    if args.quick:
        args.events, args.checkpoint_interval_ms = 300_000, 1_000
        args.latency_seconds = min(args.latency_seconds, 5)
    queries = args.queries.split(",")
    for q in queries:
        if q not in QUERIES:
            raise SystemExit("unknown query %r: choose from %s" % (q, ", ".join(QUERIES)))
    build = os.path.abspath(args.build)
    library = os.path.join(build, "bench", "nexmark", "libeddy-nexmark.so")
    for path in (library, os.path.join(build, "bench", "nexmark", "nexmark_reference")):
        if not os.path.exists(path):
            raise SystemExit("%s is missing: build the eddy-nexmark and nexmark_reference targets" % path)

    tmp = tempfile.mkdtemp(prefix="eddy-nexmark-")
    try:
        cluster = dist_cluster.Cluster.install(args.cmake, build, tmp, taskmanagers=1)
    except RuntimeError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SystemExit("cannot install the distribution from %s (build every target first: cmake --build %s)\n%s"
                         % (build, args.build, str(e)[-600:]))
    if not cluster.start(1):
        cluster.stop()
        raise SystemExit("the cluster did not start")
    try:
        tm = cluster.taskmanagers()[0]
        tm_pid = dist_cluster.pid_listening_on(tm["dataPort"])
        if tm_pid is None:
            raise SystemExit("cannot find the TaskManager's process")
        if args.check:
            failed = check_queries(cluster, build, library, queries, args.events, args.time_rate, args.parallelism,
                                   tmp)
            print("%d of %d queries differ from the reference" % (len(failed), len(queries)), flush=True)
            if failed:
                raise SystemExit(1)
            return
        stats_dir = os.path.join(tmp, "stats")
        print("%d events per query, parallelism %d, 1 TaskManager (2 slots), exactly-once checkpoints every %d ms"
              % (args.events, args.parallelism, args.checkpoint_interval_ms), flush=True)
        header = ("| query | backend | events/s | events/s per core | p50 ms | p99 ms | peak RSS MB | "
                  "baseline events/s | baseline / engine per core |")
        print(header)
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |", flush=True)
        measured = {}
        for backend in args.backends.split(","):
            for q in queries:
                r = run_query(cluster, tm_pid, library, q, backend, args, stats_dir)
                measured[(q, backend)] = r
                base = baseline_rate(build, q, args.events, args.time_rate)
                print("| %s | %s | %s | %s | %s | %s | %.0f | %s | %.2f |" % (
                    q, backend, fmt_rate(r["rate"]), fmt_rate(r["per_core"]), fmt_ms(r["p50"]), fmt_ms(r["p99"]),
                    r["rss"], fmt_rate(base), base / r["per_core"]), flush=True)

        if args.latency:
            print("\nLatency at half the maximum rate (hashmap, execution.buffer-timeout = 1 ms, "
                  "out-of-order bound 0, watermarks every 10 ms, %d s per run):" % args.latency_seconds)
            print("| query | rate events/s | p50 ms | p99 ms | p99.9 ms |")
            print("| --- | ---: | ---: | ---: | ---: |", flush=True)
            for q in ("q0", "q5"):
                top = measured.get((q, "hashmap")) or run_query(cluster, tm_pid, library, q, "hashmap", args,
                                                                stats_dir)
                rate = int(top["rate"] / 2)
                saved = args.events, args.time_rate
                # More events than the run needs: it is cancelled before its end.
                args.events, args.time_rate = rate * (args.latency_seconds + 600), rate
                r = run_query(cluster, tm_pid, library, q, "hashmap", args, stats_dir,
                              extra_args=("--rate", str(rate), "--out-of-order-ms", "0"),
                              config=("execution.buffer-timeout=1 ms", "pipeline.auto-watermark-interval=10 ms"),
                              cancel_after=args.latency_seconds)
                args.events, args.time_rate = saved
                print("| %s | %s | %s | %s | %s |" % (q, fmt_rate(rate), fmt_ms(r["p50"]), fmt_ms(r["p99"]),
                                                      fmt_ms(r["p999"])), flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
