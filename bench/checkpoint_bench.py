#!/usr/bin/env python3
"""Checkpoint costs on the embedded cluster (`eddy run --target local`).

1. Throughput of a stateful job (StatefulPayload: keyed ValueState of 100 B per
   key) without checkpoints and with a checkpoint every second, per backend.
   The job's runtime includes its end: with checkpoints a task waits for one
   more checkpoint after its input ended (at most one interval per stage).
2. 1 GB of RocksDB state (10 M keys x 100 B; afterwards only 1000 hot keys
   change): duration and size of each checkpoint, full against incremental.

Usage: bench/checkpoint_bench.py --build BUILD [--quick]
"""
import argparse
import os
import re
import subprocess
import tempfile
import time

DONE = re.compile(r"Completed checkpoint (\d+) of job \w+ \((\d+) bytes, (\d+) bytes written\) in (\d+) ms")
RUNTIME = re.compile(r"Job Runtime: (\d+) ms")


def run(args, job_args, conf):
    cmd = [os.path.join(args.build, "client", "eddy"), "run", "--target", "local", "-p", "2",
           "-D", "env.log.stderr-level=INFO"]
    for k, v in conf.items():
        cmd += ["-D", "%s=%s" % (k, v)]
    cmd += ["-c", "StatefulPayload", os.path.join(args.build, "bench", "libeddy-bench-jobs.so")] + job_args
    started = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit("failed: %s\n%s" % (" ".join(cmd), out.stderr[-2000:]))
    text = out.stdout + out.stderr
    runtime = int(RUNTIME.search(text).group(1)) / 1000.0 if RUNTIME.search(text) else time.time() - started
    return runtime, [tuple(int(x) for x in m.groups()) for m in DONE.finditer(text)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="eddy-checkpoint-bench-")
    base = {"state.checkpoints.dir": os.path.join(work, "chk"),
            "state.backend.rocksdb.localdir": os.path.join(work, "rocksdb")}

    if not args.skip_throughput:
        print("| backend | records | no checkpoints: s, records/s | checkpoint every 1 s: s, records/s | checkpoints |")
        print("| --- | ---: | ---: | ---: | ---: |")
    for backend, n in () if args.skip_throughput else (("hashmap", 20_000_000 if args.quick else 100_000_000),
                       ("rocksdb", 2_000_000 if args.quick else 10_000_000)):
        conf = dict(base, **{"state.backend.type": backend})
        job = ["--n", str(n), "--keys", "100000"]
        t0, _ = run(args, job, conf)
        t1, done = run(args, job, dict(conf, **{"execution.checkpointing.interval": "1 s"}))
        print("| %s | %d M | %.1f s, %.2f M/s | %.1f s, %.2f M/s | %d |" %
              (backend, n // 1_000_000, t0, n / t0 / 1e6, t1, n / t1 / 1e6, len(done)), flush=True)

    keys = 1_000_000 if args.quick else 10_000_000
    print()
    print("| rocksdb, %d M keys x 100 B | checkpoints | first: ms, MB written | later (median): ms, MB written "
          "| last: ms, MB written | MB of state | every checkpoint: ms/MB written |" % (keys // 1_000_000))
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for incremental in ("false", "true"):
        conf = dict(base, **{"state.backend.type": "rocksdb", "state.backend.incremental": incremental,
                             "execution.checkpointing.interval": "10 s"})
        job = ["--n", str(keys * 2), "--keys", str(keys), "--hot", "1000"]
        _, done = run(args, job, conf)
        if not done:
            print("| %s | 0 | | | |" % ("incremental" if incremental == "true" else "full"))
            continue
        later = sorted(done[1:], key=lambda d: d[3]) or done
        mid = later[len(later) // 2]
        print("| %s | %d | %d ms, %.0f MB | %d ms, %.0f MB | %d ms, %.0f MB | %.0f | %s |" %
              ("incremental" if incremental == "true" else "full", len(done), done[0][3], done[0][2] / 1e6,
               mid[3], mid[2] / 1e6, done[-1][3], done[-1][2] / 1e6, max(d[1] for d in done) / 1e6,
               " ".join("%d/%.0f" % (d[3], d[2] / 1e6) for d in done)), flush=True)
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
