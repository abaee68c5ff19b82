#!/usr/bin/env python3
"""End-to-end test of how `eddy run` reports bad input.

Every case must fail cleanly: a positive exit code (never a signal, no "core
dumped"), and one "Error: ..." line on stderr that names what was wrong. A
malformed command-line option is a usage error: its error line may be followed
by the usage text.

The job whose user function throws is built the way a user would build it:
against the installed distribution, with find_package(Eddy) and eddy_add_job.

Usage: cli_errors_e2e.py --eddy BIN --examples LIB --build-dir DIR --cmake CMAKE --cxx CXX
"""

import argparse
import os
import shutil
import stat
import sys
import tempfile

import e2e_support as e2e

FAILING_JOB = r"""
// Programs whose user code throws, for the CLI error test.
#include <cstdint>
#include <stdexcept>

#include <eddy/eddy.h>

namespace {

// Throws at record 42; every other record passes through.
int64_t CheckRecord(const int64_t& v) {
  if (v == 42) throw std::runtime_error("bad record 42");
  return v;
}

class OpenThrows : public eddy::RichMapFunction<int64_t, int64_t> {
 public:
  void open(eddy::RuntimeContext&) override { throw std::runtime_error("cannot open resource 9"); }
  int64_t map(const int64_t& v) override { return v; }
};

}  // namespace

EDDY_PROGRAM(FailingMap, env, args) {
  env.fromSequence(1, 10000).map(CheckRecord).name("checker")
      .sinkTo(eddy::FileSink::forRowFormat(args.getRequired("output")));
  env.execute("failing map");
}

EDDY_PROGRAM(FailingKeyedMap, env, args) {
  // The throwing function runs after a network shuffle.
  env.fromSequence(1, 10000)
      .keyBy([](const int64_t& v) { return v % 5; })
      .map(CheckRecord)
      .sinkTo(eddy::FileSink::forRowFormat(args.getRequired("output")));
  env.execute("failing keyed map");
}

EDDY_PROGRAM(ThrowsNonStandard, env, args) {
  env.fromSequence(1, 1000)
      .map([](const int64_t& v) -> int64_t {
        if (v == 42) throw 7;
        return v;
      })
      .sinkTo(eddy::FileSink::forRowFormat(args.getRequired("output")));
  env.execute("throws an int");
}

EDDY_PROGRAM(FailingOpen, env, args) {
  env.fromSequence(1, 1000).map(OpenThrows())
      .sinkTo(eddy::FileSink::forRowFormat(args.getRequired("output")));
  env.execute("failing open");
}

EDDY_PROGRAM(FailingBody, env, args) {
  throw std::runtime_error("program body failed 5");
}
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--eddy", required=True)
    parser.add_argument("--examples", required=True)
    parser.add_argument("--build-dir", required=True, help="the Eddy build tree, to install")
    parser.add_argument("--cmake", default="cmake")
    parser.add_argument("--cxx", default="g++")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="eddy-cli-errors-e2e-")
    results = []  # (name, problems)

    def case(name, cmd, must_contain=(), expected_code=1, usage_error=False, timeout=120):
        result = e2e.run(cmd, timeout=timeout, cwd=tmp)
        problems = e2e.error_problems(result, must_contain, expected_code, usage_error)
        print("%-40s %s" % (name, "ok" if not problems else "FAILED"))
        if problems:
            for p in problems:
                print("    " + p)
            print("    " + result.describe().replace("\n", "\n    "))
        else:
            print("    " + result.stderr.splitlines()[0])
        results.append((name, problems))

    try:
        eddy, examples = args.eddy, args.examples
        run = [eddy, "run", "--target", "local"]
        out = os.path.join(tmp, "out")

        # --- Input files ---
        missing = os.path.join(tmp, "no-such-dir", "missing-input.txt")
        case("missing --input path", run + ["-p", "2", "-c", "WordCount", examples,
                                            "--input", missing, "--output", out],
             must_contain=[missing])

        if os.geteuid() == 0:
            print("%-40s skipped (running as root: chmod 000 does not block reads)" %
                  "unreadable input file")
        else:
            unreadable = os.path.join(tmp, "unreadable.txt")
            with open(unreadable, "w") as f:
                f.write("some words here\n")
            os.chmod(unreadable, 0)
            case("unreadable input file", run + ["-c", "WordCount", examples,
                                                 "--input", unreadable, "--output", out],
                 must_contain=[unreadable])
            os.chmod(unreadable, stat.S_IRUSR | stat.S_IWUSR)

        # --- Programs and libraries ---
        case("unknown program -c Nope", run + ["-c", "Nope", examples],
             must_contain=["Nope", "WordCount", "SocketWordCount"])

        plain_src = os.path.join(tmp, "plain.cc")
        with open(plain_src, "w") as f:
            f.write("extern \"C\" int plain_function(int x) { return x + 1; }\n")
        plain_lib = os.path.join(tmp, "libplain.so")
        built = e2e.run([args.cxx, "-shared", "-fPIC", "-o", plain_lib, plain_src], timeout=120)
        if built.returncode != 0:
            raise RuntimeError("cannot build the plain library\n" + built.describe())
        case("plain shared library with -c", run + ["-c", "WordCount", plain_lib],
             must_contain=[plain_lib])
        case("plain shared library without -c", run + [plain_lib], must_contain=[plain_lib])

        text_lib = os.path.join(tmp, "libtext.so")
        with open(text_lib, "w") as f:
            f.write("This is a text file, not a shared library.\n" * 20)
        case("text file named .so", run + ["-c", "WordCount", text_lib], must_contain=[text_lib])

        no_lib = os.path.join(tmp, "libdoes-not-exist.so")
        case("non-existent library", run + ["-c", "WordCount", no_lib], must_contain=[no_lib])

        # --- Configuration and options ---
        case("-D execution.buffer-timeout=abc",
             run + ["-D", "execution.buffer-timeout=abc", "-c", "WordCount", examples],
             must_contain=["execution.buffer-timeout", "abc"])
        case("-D parallelism.default=many",
             run + ["-D", "parallelism.default=many", "-c", "WordCount", examples],
             must_contain=["parallelism.default", "many"])
        case("-D without '='", run + ["-D", "novalue", "-c", "WordCount", examples],
             must_contain=["novalue"])
        for bad in ("0", "-3", "abc", "2x", ""):
            case("-p %r" % bad, run + ["-p", bad, "-c", "WordCount", examples],
                 must_contain=["-p", "'%s'" % bad], expected_code=None, usage_error=True)
        case("-p above the max parallelism", run + ["-p", "100000", "-c", "WordCount", examples],
             must_contain=["100000"])
        case("-p without a value", run + ["-c", "WordCount", "-p"],
             must_contain=["-p"], expected_code=None, usage_error=True)
        case("program body throws (no --port)",
             run + ["-c", "SocketWordCount", examples, "--output", out], must_contain=["--port"])

        # --- User functions that throw, in a job built against the distribution ---
        dist = os.path.join(tmp, "dist")
        e2e.install_distribution(args.cmake, args.build_dir, dist)
        job = e2e.build_job_project(args.cmake, args.cxx, dist, os.path.join(tmp, "project"),
                                    "failingjob", {"job.cc": FAILING_JOB})
        dist_run = [os.path.join(dist, "bin", "eddy"), "run", "--target", "local"]
        for p in ("1", "3"):
            case("map throws, -p %s" % p,
                 dist_run + ["-p", p, "-c", "FailingMap", job, "--output", out + "-map-" + p],
                 must_contain=["bad record 42"])
            case("keyed map throws, -p %s" % p,
                 dist_run + ["-p", p, "-c", "FailingKeyedMap", job, "--output", out + "-keyed-" + p],
                 must_contain=["bad record 42"])
        case("map throws a non-std exception",
             dist_run + ["-p", "2", "-c", "ThrowsNonStandard", job, "--output", out + "-int"])
        case("open() throws", dist_run + ["-p", "2", "-c", "FailingOpen", job,
                                          "--output", out + "-open"],
             must_contain=["cannot open resource 9"])
        case("program body throws", dist_run + ["-c", "FailingBody", job],
             must_contain=["program body failed 5"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    failed = [name for name, problems in results if problems]
    if failed:
        print("FAILED: " + "; ".join(failed))
        return 1
    print("all %d error cases reported cleanly" % len(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
