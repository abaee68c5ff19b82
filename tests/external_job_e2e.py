#!/usr/bin/env python3
"""End-to-end test of the installed distribution, used as a user would.

1. `cmake --install BUILD --prefix TMP/dist`.
2. A separate CMake project with find_package(Eddy) + eddy_add_job(myjob ...),
   built with Ninja against TMP/dist only.
3. Its KeyedSum program (fromSequence(1, N) keyed by v % 7, rolling sum) runs
   through TMP/dist/bin/eddy at -p 1 and -p 3; the FileSink output is checked
   against sums computed here: for each key, the successive partial sums must
   be increasing, their increments must be exactly the numbers v with
   v % 7 == key, and the last one their total.
4. The installed examples/libeddy-examples.so WordCount without --input (its
   built-in text) must exit 0 and print the counts of that text.

Usage: external_job_e2e.py --build-dir DIR --cmake CMAKE --cxx CXX
"""

import argparse
import collections
import os
import re
import shutil
import sys
import tempfile

import e2e_support as e2e

N = 100000
KEYS = 7

USER_JOB = r"""
// A user's job library, built outside the Eddy tree with find_package(Eddy).
#include <cstdint>
#include <utility>

#include <eddy/eddy.h>

namespace {
using KeyedValue = std::pair<int64_t, int64_t>;  // (v % 7, v)
}  // namespace

// Rolling sum per key of the numbers 1..n, keyed by v % 7.
EDDY_PROGRAM(KeyedSum, env, args) {
  const int64_t n = args.getLong("n", 100000);
  env.fromSequence(1, n)
      .map([](const int64_t& v) { return KeyedValue(v % 7, v); }).name("to-pair")
      .keyBy([](const KeyedValue& kv) { return kv.first; })
      .sum(1).name("sum")
      .sinkTo(eddy::FileSink::forRowFormat(args.getRequired("output")));
  env.execute("Keyed sum");
}
"""

# The built-in text of the WordCount example (examples/word_count.cc), counted
# here independently.
WORDCOUNT_DEFAULT_TEXT = """\
To be, or not to be,--that is the question:--
Whether 'tis nobler in the mind to suffer
The slings and arrows of outrageous fortune
Or to take arms against a sea of troubles,
And by opposing end them?--To die,--to sleep,--
No more; and by a sleep to say we end
The heartache, and the thousand natural shocks
That flesh is heir to,--'tis a consummation
Devoutly to be wish'd. To die,--to sleep;--
"""

PAIR_RE = re.compile(r"\(([0-9]+),([0-9]+)\)")
PRINTED_RE = re.compile(r"(?:[0-9]+> )?\(([a-z0-9]+),([0-9]+)\)")


def check_keyed_sum(out_dir, parallelism):
    problems = []
    names = sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else []
    allowed = {"part-%d-0" % i for i in range(parallelism)}
    extra = [n for n in names if n not in allowed]
    if extra:
        problems.append("unexpected files in the output: %s" % extra)
    expected = collections.defaultdict(list)
    for v in range(1, N + 1):
        expected[v % KEYS].append(v)
    increments = collections.defaultdict(list)
    last = {}
    home = {}
    for name in names:
        if name not in allowed:
            continue
        with open(os.path.join(out_dir, name)) as f:
            for line_no, line in enumerate(f, 1):
                m = PAIR_RE.fullmatch(line.rstrip("\n"))
                if not m:
                    problems.append("%s:%d: malformed line %r" % (name, line_no, line[:100]))
                    return problems
                key, total = int(m.group(1)), int(m.group(2))
                if home.setdefault(key, name) != name:
                    problems.append("key %d appears in %s and %s" % (key, home[key], name))
                    return problems
                prev = last.get(key, 0)
                increments[key].append(total - prev)
                last[key] = total
    if sorted(last) != list(range(KEYS)):
        problems.append("keys in the output: %s, expected 0..%d" % (sorted(last), KEYS - 1))
    for key in range(KEYS):
        want_total = sum(expected[key])
        if last.get(key) != want_total:
            problems.append("key %d: last sum %s, expected %d" % (key, last.get(key), want_total))
        if sorted(increments[key]) != expected[key]:
            problems.append("key %d: the partial sums do not add the numbers v %% 7 == %d once "
                            "each (%d updates, expected %d)" %
                            (key, key, len(increments[key]), len(expected[key])))
    return problems


def check_default_wordcount(stdout, parallelism):
    problems = []
    expected = collections.Counter(re.findall(r"[a-z0-9]+", WORDCOUNT_DEFAULT_TEXT.lower()))
    last = {}
    for line in stdout.splitlines():
        m = PRINTED_RE.fullmatch(line)
        if m:
            word, count = m.group(1), int(m.group(2))
            if count != last.get(word, 0) + 1:
                problems.append("(%s,%d) follows count %d" % (word, count, last.get(word, 0)))
            last[word] = count
    if not any(line.split("> ")[-1].startswith("(to,") for line in stdout.splitlines()):
        problems.append("no '(to,' line on stdout")
    if last != dict(expected):
        missing = sorted(set(expected) - set(last))
        extra = sorted(set(last) - set(expected))
        wrong = sorted(w for w in expected if w in last and last[w] != expected[w])
        problems.append("final counts differ: missing %s, extra %s, wrong %s" %
                        (missing, extra, ["%s=%d (want %d)" % (w, last[w], expected[w]) for w in wrong]))
    if parallelism > 1:
        for line in stdout.splitlines():
            if PRINTED_RE.fullmatch(line) and not re.match(r"[0-9]+> ", line):
                problems.append("parallel print line without the 'N> ' prefix: %r" % line)
                break
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True, help="the Eddy build tree, to install")
    parser.add_argument("--cmake", default="cmake")
    parser.add_argument("--cxx", default="")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="eddy-external-job-e2e-")
    failures = []

    def report(label, problems, result=None):
        print("%-36s %s" % (label, "ok" if not problems else "FAILED"))
        for p in problems:
            print("    " + p)
        if problems and result is not None:
            print("    " + result.describe().replace("\n", "\n    "))
        if problems:
            failures.append(label)

    try:
        dist = os.path.join(tmp, "dist")
        e2e.install_distribution(args.cmake, args.build_dir, dist)
        library = e2e.build_job_project(args.cmake, args.cxx, dist, os.path.join(tmp, "myproject"),
                                        "myjob", {"job.cc": USER_JOB})
        report("install + build user project", [])
        eddy = os.path.join(dist, "bin", "eddy")

        for p in (1, 3):
            out_dir = os.path.join(tmp, "out-p%d" % p)
            result = e2e.run([eddy, "run", "--target", "local", "-p", str(p), "-c", "KeyedSum",
                              library, "--n", str(N), "--output", out_dir], cwd=tmp, timeout=300)
            problems = []
            if result.returncode != 0:
                problems.append("exit code %d" % result.returncode)
            elif "Job Runtime:" not in result.stdout:
                problems.append("no 'Job Runtime:' line on stdout")
            else:
                problems = check_keyed_sum(out_dir, p)
            report("KeyedSum -p %d" % p, problems, result)

        examples = os.path.join(dist, "examples", "libeddy-examples.so")
        for p in (1, 2):
            result = e2e.run([eddy, "run", "--target", "local", "-p", str(p), "-c", "WordCount",
                              examples], cwd=tmp, timeout=300)
            problems = []
            if result.returncode != 0:
                problems.append("exit code %d" % result.returncode)
            else:
                problems = check_default_wordcount(result.stdout, p)
            report("installed WordCount (built-in) -p %d" % p, problems, result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print("the installed distribution builds and runs user jobs correctly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
