#!/usr/bin/env python3
"""Throughput of a keyBy job whose records cross TCP between two TaskManager
processes, beside raw loopback TCP bandwidth measured in the same run.

Starts a jobmanager and two taskmanagers (one slot each) from a build tree,
runs KeyedThroughput (fromSequence → map → keyBy → sink) at parallelism 2, so
half of the records go from one TaskManager to the other over TCP, and prints
records/s, the network MB/s of the job and the ratio to raw loopback TCP.

  bench/cluster_bench.py --build build [--records 50000000]
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rest(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return json.loads(r.read())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--records", type=int, default=50000000)
    parser.add_argument("--payload", type=int, default=0,
                        help="bytes of payload per record (PayloadThroughput); 0: KeyedThroughput")
    args = parser.parse_args()
    b = os.path.abspath(args.build)
    work = tempfile.mkdtemp(prefix="eddy-bench-")
    rpc, rest_port = free_port(), free_port()
    common = ["-D", "jobmanager.rpc.port=%d" % rpc, "-D", "env.log.dir=" + work]
    procs = [subprocess.Popen([b + "/jobmanager/jobmanager", "-D", "rest.port=%d" % rest_port] + common,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    time.sleep(0.5)
    for _ in range(2):
        procs.append(subprocess.Popen([b + "/taskmanager/taskmanager", "-D", "taskmanager.numberOfTaskSlots=1"]
                                      + common, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        for _ in range(100):
            try:
                if rest(rest_port, "/overview")["taskmanagers"] == 2:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        raw = subprocess.run([b + "/bench/loopback_tcp", "2048"], capture_output=True, text=True).stdout
        raw_mbs = float(re.search(r"= (\d+) MB/s", raw).group(1))
        program = ["-c", "KeyedThroughput"] if args.payload == 0 else ["-c", "PayloadThroughput"]
        extra = [] if args.payload == 0 else ["--payload", str(args.payload)]
        out = subprocess.run([b + "/client/eddy", "run", "-m", "localhost:%d" % rpc, "-p", "2"] + program +
                             [b + "/bench/libeddy-bench-jobs.so", "--n", str(args.records)] + extra,
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit("job failed: " + out.stderr)
        jid = re.search(r"JobID ([0-9a-f]{32})", out.stdout).group(1)
        runtime_ms = int(re.search(r"Job Runtime: (\d+) ms", out.stdout).group(1))
        time.sleep(1.5)  # final metrics arrive with the last heartbeat
        job = rest(rest_port, "/jobs/" + jid)
        src = [v for v in job["vertices"] if "pairs" in v["name"]][0]["metrics"]
        seconds = runtime_ms / 1000.0
        records_s = args.records / seconds
        # Keys spread evenly: half of what the sources write crosses TCP.
        tcp_mbs = src["write-bytes"] / 2 / seconds / 1e6
        print("records: %d, job runtime %.2f s (2 TaskManagers x 1 slot, parallelism 2)" % (args.records, seconds))
        print("%-44s %14s" % ("measure", "value"))
        print("%-44s %14.0f" % ("job records/s (all records)", records_s))
        print("%-44s %14.1f" % ("job network MB/s (all channels)", src["write-bytes"] / seconds / 1e6))
        print("%-44s %14.1f" % ("job MB/s crossing TCP between TaskManagers", tcp_mbs))
        print("%-44s %14.0f" % ("raw loopback TCP MB/s (same run)", raw_mbs))
        print("%-44s %14.3f" % ("ratio TCP-crossing MB/s / raw", tcp_mbs / raw_mbs))
        print("%-44s %14.1f" % ("bytes per record on the wire", src["write-bytes"] / max(1, src["write-records"])))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=15)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
