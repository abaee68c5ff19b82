"""End-to-end test of the user-behaviour applications on an installed
cluster: user-behavior-gen writes the data sets, every program of
libeddy-user-behavior.so runs through `eddy run -p 2` against a started
JobManager and two TaskManagers, and each output stream must equal, line for
line, what reference.py computes from the same files. A copy of the
behaviour data with malformed lines shows that jobs skip (and count) them and
still give the right results for the good lines.

    user_behavior_e2e.py --build-dir BUILD [--cmake cmake] [--keep]
"""

import argparse
import glob
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/: dist_cluster, e2e_support
sys.path.insert(0, HERE)

import dist_cluster  # noqa: E402
import e2e_support as e2e  # noqa: E402
import reference  # noqa: E402
from dist_cluster import check  # noqa: E402

# Lines that every parser must refuse, with what makes each one wrong.
MALFORMED_BEHAVIOUR = [
    "",                                        # empty
    "1,2,3,pv",                                # a field missing
    "1,2,3,pv,1511661600,9",                   # a field too many
    "x1,2,3,pv,1511661600",                    # not a number
    "1,2,3,click,1511661600",                  # not a behaviour
    "1,2,3,pv,-1511661600",                    # a sign
    "1,2,3,pv, 1511661600",                    # a blank
    "1,2,3,pv,1234567890123456789",            # 19 digits
    "1,2,3,pv,100000000001",                   # beyond 10^11 s
    "1;2;3;pv;1511661600",                     # wrong separator
    "\xff\xfe,2,3,pv,1511661600",              # bytes that are no number
]

# (program, data file, extra arguments, reference function, reference options)
JOBS = [
    ("HotItems", "UserBehavior.csv", [], reference.hot_items, {}),
    ("HotItems", "UserBehavior.csv", ["--top", "5", "--window-minutes", "30", "--slide-minutes", "10"],
     reference.hot_items, {"top": 5, "size": 1800000, "slide": 600000}),
    ("HotPages", "apache.log", [], reference.hot_pages, {}),
    ("PageView", "UserBehavior.csv", [], reference.page_view, {}),
    ("UniqueVisitor", "UserBehavior.csv", [], reference.unique_visitor, {}),
    # A filter small enough to saturate: the Bloom count falls short.
    ("UniqueVisitor", "UserBehavior.csv", ["--bloom-bits", "16384", "--bloom-hashes", "3"],
     reference.unique_visitor, {"bloom_bits": 16384, "bloom_hashes": 3}),
    ("AppMarketing", "AppMarketing.csv", [], reference.app_marketing, {}),
    ("AdClickStatistics", "AdClickLog.csv", [], reference.ad_click_statistics, {}),
    ("LoginFailDetect", "LoginLog.csv", [], reference.login_fail_detect, {}),
    ("LoginFailDetectCep", "LoginLog.csv", [], reference.login_fail_detect, {}),
    ("LoginFailDetect", "LoginLog.csv", ["--fails", "3", "--within-seconds", "5"],
     reference.login_fail_detect, {"fails": 3, "within": 5000}),
    ("LoginFailDetectCep", "LoginLog.csv", ["--fails", "3", "--within-seconds", "5"],
     reference.login_fail_detect, {"fails": 3, "within": 5000}),
    ("OrderTimeout", "OrderLog.csv", [], reference.order_timeout, {}),
    ("OrderTimeoutCep", "OrderLog.csv", [], reference.order_timeout, {}),
]


def read_stream(directory):
    """Every line of the part files under `directory`, sorted."""
    lines = []
    for part in sorted(glob.glob(os.path.join(directory, "part-*"))):
        with open(part, "rb") as f:
            lines += f.read().decode("latin-1").splitlines()
    return sorted(lines)


def diff(got, want):
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    return "got %d lines, want %d\nmissing: %s\nextra: %s" % (len(got), len(want), missing[:5], extra[:5])


def run_job(cluster, library, program, data, extra, output, label):
    """Runs `program` on `data` (None: on its generator source)."""
    source = ["--input", data] if data else []
    r = cluster.eddy("run", "-p", "2", "-c", program, library, *source, "--output", output, *extra, timeout=180)
    ok = check(r.returncode == 0, "%s %s finishes" % (program, label), r.describe())
    jid = dist_cluster.JOBID.search(r.stdout)
    return ok, jid.group(1) if jid else None


def compare(program, label, output, expected):
    for stream, want in expected.items():
        got = read_stream(os.path.join(output, stream))
        check(got == want, "%s %s: %s equals the reference (%d lines)" % (program, label, stream, len(want)),
              diff(got, want))
        check(len(want) > 0, "%s %s: %s is not empty" % (program, label, stream))


def skipped_records(cluster, jid):
    """numSkippedRecords summed over the parsing vertex's subtasks, or None."""
    job = cluster.job(jid)
    vertex = next((v["id"] for v in (job or {}).get("vertices", []) if "parse" in v["name"]), None)
    if vertex is None:
        return None
    status, body = e2e.rest_get(cluster.rest_port, "/jobs/%s/vertices/%s/subtasks/metrics?get=numSkippedRecords"
                                % (jid, vertex))
    return body[0]["sum"] if status == 200 and body else None


def malformed_lines(cluster, library, data, tmp):
    """UserBehavior.csv with a malformed line every 997 good ones (and a good
    one ending in \\r): HotItems and UniqueVisitor skip exactly those."""
    with open(os.path.join(data, "UserBehavior.csv"), "rb") as f:
        good = f.read().decode("latin-1").split("\n")[:-1]
    mixed = []
    for i, line in enumerate(good):
        if i % 997 == 0:
            mixed.append(MALFORMED_BEHAVIOUR[(i // 997) % len(MALFORMED_BEHAVIOUR)])
        mixed.append(line + "\r" if i == 5 else line)
    path = os.path.join(tmp, "UserBehavior-malformed.csv")
    with open(path, "wb") as f:
        f.write(("\n".join(mixed) + "\n").encode("latin-1"))
    _, skipped = reference.read(path, reference.parse_user_behavior)
    check(skipped == len(range(0, len(good), 997)), "reference.py refuses every malformed line (%d)" % skipped)
    for program, ref in (("HotItems", reference.hot_items), ("UniqueVisitor", reference.unique_visitor)):
        output = os.path.join(tmp, "out", program + "-malformed")
        ok, jid = run_job(cluster, library, program, path, [], output, "(malformed lines)")
        if ok:
            compare(program, "(malformed lines)", output, ref(path))
        if jid:
            check(e2e.wait_for(lambda: skipped_records(cluster, jid) == skipped, 15),
                  "%s: REST numSkippedRecords is %d (got %s)" % (program, skipped, skipped_records(cluster, jid)))
    reports = ""
    for log in glob.glob(os.path.join(cluster.dist, "log", "*")):
        with open(log, errors="replace") as f:
            reports += "".join(l for l in f if "skipping malformed line" in l)
    check("behavior 'click' is not one of pv/buy/cart/fav): '1,2,3,click,1511661600'" in reports,
          "a TaskManager log names a malformed line and what is wrong with it", reports[-1500:])


def generator_source(cluster, library, data, tmp):
    """Without --input a program generates its data: the same records
    user-behavior-gen wrote with the same (default) seed and count."""
    output = os.path.join(tmp, "out", "HotPages-generated")
    ok, _ = run_job(cluster, library, "HotPages", None, [], output, "(generator source)")
    if ok:
        compare("HotPages", "(generator source)", output, reference.hot_pages(os.path.join(data, "apache.log")))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--cmake", default="cmake")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="eddy-user-behavior-e2e-")
    cluster = None
    try:
        cluster = dist_cluster.Cluster.install(args.cmake, args.build_dir, tmp)
        examples = os.path.join(cluster.dist, "examples")
        library = os.path.join(examples, "libeddy-user-behavior.so")
        data = os.path.join(tmp, "data")
        r = e2e.run([os.path.join(examples, "user-behavior-gen"), "--output", data], timeout=120)
        check(r.returncode == 0, "user-behavior-gen writes the data sets", r.describe())
        if cluster.start():
            for program, data_file, extra, ref, options in JOBS:
                output = os.path.join(tmp, "out", "%s%s" % (program, "".join(extra)))
                label = " ".join(extra) or "(defaults)"
                ok, _ = run_job(cluster, library, program, os.path.join(data, data_file), extra, output, label)
                if ok:
                    compare(program, label, output, ref(os.path.join(data, data_file), **options))
            malformed_lines(cluster, library, data, tmp)
            generator_source(cluster, library, data, tmp)
    except Exception as e:  # a crash of the test itself is a failure too
        check(False, "the test runs to the end", repr(e))
    finally:
        if cluster is not None:
            cluster.stop()
        if args.keep:
            print("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d failure(s)" % len(dist_cluster.failures), flush=True)
    sys.exit(1 if dist_cluster.failures else 0)


if __name__ == "__main__":
    main()
