#!/usr/bin/env python3
"""End-to-end test of the WordCount example on a generated ~50 MB text.

Runs `eddy run --target local -p N -c WordCount libeddy-examples.so --input IN
--output OUT` on one big file (several parallelisms) and on a directory of
several files, and checks the output against a word count computed here,
independently of the engine: a regex over the ASCII-lowercased bytes.

WordCount emits (word,count) on every count change, so for each word the part
file that holds it must contain exactly the lines (w,1), (w,2), ..., (w,N) in
that order, where N is the reference count; no other words may appear, and a
word must appear in one part file only.

Usage: wordcount_e2e.py --eddy BIN --examples LIB [--size-mb N] [--small-size-mb N]
"""

import argparse
import collections
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

WORD_RE = re.compile(rb"[a-z0-9]+")
LINE_RE = re.compile(r"\(([a-z0-9]+),([0-9]+)\)")
JOB_ID_RE = re.compile(r"Job has been submitted with JobID [0-9a-f]{32}")


def reference_counts(chunks):
    """The independent word count: maximal [a-z0-9] runs of the lowercased bytes."""
    counts = collections.Counter()
    for data in chunks:
        counts.update(WORD_RE.findall(data.lower()))
    return {w.decode("ascii"): n for w, n in counts.items()}


def make_vocabulary(rng):
    """Words of mixed-case letters and digits, some differing only by case; and a
    few very long words (longer than typical buffers), used rarely."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    vocab = []
    for _ in range(6000):
        n = rng.choice((1, 2, 3, 3, 4, 5, 5, 6, 7, 8, 9, 10, 12, 16, 25))
        vocab.append("".join(rng.choice(alphabet) for _ in range(n)))
    # Case variants of the same word, which must be counted together.
    for w in list(vocab[:300]):
        vocab.append(w.swapcase())
        vocab.append(w.upper())
    long_words = ["".join(rng.choice(alphabet) for _ in range(n)) for n in (300, 5000, 70000)]
    return [w.encode("ascii") for w in vocab], [w.encode("ascii") for w in long_words]


# Separators: ASCII punctuation and whitespace, control bytes, and non-ASCII
# bytes (UTF-8 sequences and lone high bytes), none of which is [a-zA-Z0-9].
SEPARATORS = [b" "] * 30 + [
    b", ", b". ", b";", b":", b"!", b"?", b"-", b"--", b"'", b"\"", b"(", b")", b"[",
    b"]", b"/", b"_", b"\t", b"  ", b"\xc3\xa9", b"\xe2\x80\x94", b"\xff", b"\x80",
    b"\xc3\x84", b"\x00", b"\x7f", b"@", b"#", b"\xf0\x9f\x98\x80", b"\v", b"\f",
]


def generate_text(seed, size):
    """Deterministic text of about `size` bytes: lines of random words and
    separators, some CRLF endings, some very long lines, no trailing newline."""
    rng = random.Random(seed)
    vocab, long_words = make_vocabulary(rng)
    # Zipf-like weights so counts range from a handful to hundreds of thousands.
    weights = [1.0 / (i + 1) ** 0.9 for i in range(len(vocab))]
    rng.shuffle(weights)
    out = []
    total = 0
    line_no = 0
    while total < size:
        line_no += 1
        r = rng.random()
        if r < 0.0005:
            n_words = rng.randint(100000, 400000)  # a line of ~0.5-3 MB
        elif r < 0.02:
            n_words = rng.randint(500, 5000)
        else:
            n_words = rng.randint(0, 25)
        words = rng.choices(vocab, weights=weights, k=n_words)
        seps = rng.choices(SEPARATORS, k=n_words)
        parts = []
        for w, s in zip(words, seps):
            parts.append(w)
            parts.append(s)
        if rng.random() < 0.002:
            parts.insert(rng.randint(0, len(parts)) & ~1, rng.choice(long_words) + b" ")
        if rng.random() < 0.3 and parts:
            parts.pop()  # line ends right after a word
        ending = b"\r\n" if rng.random() < 0.25 else b"\n"
        if rng.random() < 0.01:
            ending = b"\n\n\r\n\n"  # blank lines
        line = b"".join(parts) + ending
        out.append(line)
        total += len(line)
    data = b"".join(out)
    return data.rstrip(b"\r\n") + b"word0ateof"  # last line without newline


def check_output(out_dir, parallelism, expected):
    """Checks the part files against the reference counts; returns problems."""
    problems = []
    names = sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else []
    allowed = {"part-%d-0" % i for i in range(parallelism)}
    for name in names:
        if name not in allowed:
            problems.append("unexpected file in output dir: %s" % name)
    seen_in = {}
    for name in names:
        if name not in allowed:
            continue
        last = {}
        with open(os.path.join(out_dir, name), "r", encoding="ascii", errors="replace") as f:
            for line_no, line in enumerate(f, 1):
                m = LINE_RE.fullmatch(line.rstrip("\n"))
                if not m:
                    problems.append("%s:%d: malformed line %r" % (name, line_no, line[:200]))
                    if len(problems) > 20:
                        return problems
                    continue
                word, count = m.group(1), int(m.group(2))
                prev = last.get(word, 0)
                if count != prev + 1:
                    problems.append("%s:%d: (%s,%d) follows count %d" % (name, line_no, word[:60], count, prev))
                    if len(problems) > 20:
                        return problems
                last[word] = count
        for word, count in last.items():
            if word in seen_in:
                problems.append("word %r appears in %s and %s" % (word[:60], seen_in[word], name))
            seen_in[word] = name
            want = expected.get(word)
            if want is None:
                problems.append("extra word %r (final count %d) in %s" % (word[:60], count, name))
            elif count != want:
                problems.append("word %r: final count %d, expected %d" % (word[:60], count, want))
            if len(problems) > 20:
                return problems
    missing = [w for w in expected if w not in seen_in]
    if missing:
        problems.append("%d words missing from the output, e.g. %s" %
                        (len(missing), ", ".join("%r" % w[:60] for w in missing[:5])))
    return problems


def run_wordcount(args, parallelism, input_path, out_dir, timeout):
    cmd = [args.eddy, "run", "--target", "local", "-p", str(parallelism), "-c", "WordCount",
           args.examples, "--input", input_path, "--output", out_dir]
    start = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    elapsed = time.monotonic() - start
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    problems = []
    if proc.returncode != 0:
        problems.append("exit code %d; stderr: %s" % (proc.returncode, stderr.strip()[-2000:]))
    elif not JOB_ID_RE.search(stdout) or "Job Runtime:" not in stdout:
        problems.append("stdout lacks the job id / runtime lines: %r" % stdout[-500:])
    return elapsed, problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--eddy", required=True, help="the eddy CLI binary")
    parser.add_argument("--examples", required=True, help="libeddy-examples.so")
    parser.add_argument("--size-mb", type=float, default=50, help="size of the big input")
    parser.add_argument("--small-size-mb", type=float, default=None,
                        help="size of the input for the other runs (default: the big one)")
    parser.add_argument("--run-timeout", type=float, default=300)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="eddy-wordcount-e2e-")
    failures = []
    try:
        t0 = time.monotonic()
        big = generate_text(20240611, int(args.size_mb * 1024 * 1024))
        big_path = os.path.join(tmp, "big.txt")
        with open(big_path, "wb") as f:
            f.write(big)
        big_expected = reference_counts([big])
        print("generated %d bytes, %d distinct words, %d words in %.1f s" %
              (len(big), len(big_expected), sum(big_expected.values()), time.monotonic() - t0))

        if args.small_size_mb is None:
            small_path, small_expected = big_path, big_expected
        else:
            small = generate_text(77, int(args.small_size_mb * 1024 * 1024))
            small_path = os.path.join(tmp, "small.txt")
            with open(small_path, "wb") as f:
                f.write(small)
            small_expected = reference_counts([small])
            del small

        # A directory of several files: pieces of the big text cut at arbitrary
        # byte offsets (mid-word and mid-line), plus an empty file.
        rng = random.Random(5)
        source = big if args.small_size_mb is None else open(small_path, "rb").read()
        cuts = sorted(rng.sample(range(1, len(source)), 5))
        pieces = [source[a:b] for a, b in zip([0] + cuts, cuts + [len(source)])] + [b""]
        dir_path = os.path.join(tmp, "indir")
        os.mkdir(dir_path)
        for i, piece in enumerate(pieces):
            with open(os.path.join(dir_path, "file-%02d.txt" % i), "wb") as f:
                f.write(piece)
        dir_expected = reference_counts(pieces)
        del big, source, pieces

        runs = [
            ("file -p 1", 1, small_path, small_expected),
            ("file -p 3", 3, small_path, small_expected),
            ("file -p 4", 4, big_path, big_expected),
            ("dir -p 2", 2, dir_path, dir_expected),
        ]
        for label, p, input_path, expected in runs:
            out_dir = os.path.join(tmp, "out-" + label.replace(" ", "_"))
            elapsed, problems = run_wordcount(args, p, input_path, out_dir, args.run_timeout)
            if not problems:
                problems = check_output(out_dir, p, expected)
            print("%-10s %6.1f s  %s" % (label, elapsed, "ok" if not problems else "FAILED"))
            for problem in problems:
                print("    " + problem)
            if problems:
                failures.append(label)
            shutil.rmtree(out_dir, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("FAILED: " + ", ".join(failures))
        return 1
    print("all WordCount runs match the reference count")
    return 0


if __name__ == "__main__":
    sys.exit(main())
