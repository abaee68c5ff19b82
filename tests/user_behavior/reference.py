"""Independent reference computations of the user-behaviour jobs
(examples/user_behavior), in plain Python over the same input files.

Each job function reads the file, skips malformed lines by the rules of
examples/user_behavior/records.cc (repeated here, not shared), and returns
{stream name: sorted list of result lines}, the lines each job writes to
<output>/<stream>/.

Event time is simulated as the jobs see it: records in file order, and after
each record a watermark of (largest timestamp so far) - bound - 1. Window
results drop elements of windows the watermark has passed (plus allowed
lateness); the keyed functions (Bloom filter, blacklist, login failures,
orders) are modelled for on-time records, which is all the generated data
holds for them.

    python3 reference.py <Job> <input file> [--option value ...]
"""

import calendar
import datetime
import re
import sys
from collections import defaultdict

INTEGER = re.compile(r"[0-9]{1,18}")
MAX_EPOCH_SECONDS = 10**11
DAY_MS = 86400 * 1000
UPPER_WORD = re.compile(r"[A-Z]+")
APACHE_TIME = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4}):([0-9]{2}):([0-9]{2}):([0-9]{2})")
ZONE = re.compile(r"([+-])([0-9]{2})([0-9]{2})")

DEFAULT_BOUNDS = {"UserBehavior": 5000, "ApacheLog": 1000, "AdClickLog": 5000, "AppMarketing": 5000,
                  "LoginLog": 3000, "OrderLog": 5000}


class Malformed(Exception):
    pass


def _fields(line, separator, count):
    if line.endswith("\r"):
        line = line[:-1]
    fields = line.split(separator)
    if len(fields) != count:
        raise Malformed("expected %d fields, got %d" % (count, len(fields)))
    return fields


def _integer(text):
    if not INTEGER.fullmatch(text):
        raise Malformed("not a number: %r" % text)
    return int(text)


def _timestamp(text):
    seconds = _integer(text)
    if seconds > MAX_EPOCH_SECONDS:
        raise Malformed("timestamp beyond 10^11 s")
    return seconds * 1000


def _one_of(text, allowed):
    if text not in allowed:
        raise Malformed("%r not in %s" % (text, allowed))
    return text


def _non_empty(text):
    if not text:
        raise Malformed("empty field")
    return text


def parse_user_behavior(line):
    user, item, category, behavior, ts = _fields(line, ",", 5)
    return {"user": _integer(user), "item": _integer(item), "category": _integer(category),
            "behavior": _one_of(behavior, ("pv", "buy", "cart", "fav")), "ts": _timestamp(ts)}


def _apache_time(time, zone):
    m = APACHE_TIME.fullmatch(time)
    if not m:
        raise Malformed("bad time %r" % time)
    day, month, year, hour, minute, second = (int(g) for g in m.groups())
    if (year < 1970 or not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]
            or hour > 23 or minute > 59 or second > 59):
        raise Malformed("invalid date %r" % time)
    z = ZONE.fullmatch(zone)
    if not z or int(z.group(2)) > 23 or int(z.group(3)) > 59:
        raise Malformed("bad zone %r" % zone)
    offset = (int(z.group(2)) * 60 + int(z.group(3))) * 60 * (-1 if z.group(1) == "-" else 1)
    return (calendar.timegm((year, month, day, hour, minute, second)) - offset) * 1000


def parse_apache_log(line):
    ip, _, user, time, zone, method, url = _fields(line, " ", 7)
    _non_empty(ip)
    _non_empty(user)
    ts = _apache_time(time, zone)
    if not UPPER_WORD.fullmatch(method):
        raise Malformed("bad method %r" % method)
    if not url.startswith("/"):
        raise Malformed("bad url %r" % url)
    return {"ip": ip, "user": user, "ts": ts, "method": method, "url": url}


def parse_ad_click(line):
    user, ad, province, city, ts = _fields(line, ",", 5)
    return {"user": _integer(user), "ad": _integer(ad), "province": _non_empty(province),
            "city": _non_empty(city), "ts": _timestamp(ts)}


def parse_marketing(line):
    user, behavior, channel, ts = _fields(line, ",", 4)
    return {"user": _integer(user), "behavior": _one_of(behavior, ("click", "download", "install", "uninstall")),
            "channel": _non_empty(channel), "ts": _timestamp(ts)}


def parse_login(line):
    user, ip, event_type, ts = _fields(line, ",", 4)
    return {"user": _integer(user), "ip": _non_empty(ip), "type": _one_of(event_type, ("success", "fail")),
            "ts": _timestamp(ts)}


def parse_order(line):
    order, event_type, tx, ts = _fields(line, ",", 4)
    record = {"order": _integer(order), "type": _one_of(event_type, ("create", "pay")), "tx": tx,
              "ts": _timestamp(ts)}
    if record["type"] == "pay" and not tx:
        raise Malformed("pay without txId")
    return record


def read(path, parse):
    """The records of the good lines of `path`, in order, and the number of
    malformed lines. Bytes are kept as they are (latin-1)."""
    with open(path, "rb") as f:
        text = f.read().decode("latin-1")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    records, skipped = [], 0
    for line in lines:
        try:
            records.append(parse(line))
        except Malformed:
            skipped += 1
    return records, skipped


def with_watermarks(records, bound):
    """(record, watermark it arrives under) in file order."""
    watermark = None
    for r in records:
        yield r, watermark
        candidate = r["ts"] - bound - 1
        if watermark is None or candidate > watermark:
            watermark = candidate


def sliding_windows(ts, size, slide):
    """Ends of the windows [end - size, end) holding ts, as Flink assigns them."""
    last_start = ts - ts % slide
    ends = []
    start = last_start
    while start > ts - size:
        ends.append(start + size)
        start -= slide
    return ends


def is_late(window_end, watermark, lateness=0):
    return watermark is not None and window_end - 1 + lateness <= watermark


def window_counts(records, bound, key, size, slide, keep=lambda r: True):
    """{(key, window end): count} over the records `keep` accepts, without the
    windows that were already closed when a record arrived."""
    counts = defaultdict(int)
    for r, watermark in with_watermarks(records, bound):
        if not keep(r):
            continue
        for end in sliding_windows(r["ts"], size, slide):
            if not is_late(end, watermark):
                counts[(key(r), end)] += 1
    return counts


def rank(counts, top):
    """[(name, count)] by count descending, then name."""
    return sorted(counts, key=lambda nc: (-nc[1], nc[0]))[:top]


# ---- the jobs ----

def hot_items(path, top=3, size=3600000, slide=300000, bound=DEFAULT_BOUNDS["UserBehavior"]):
    records, _ = read(path, parse_user_behavior)
    counts = window_counts(records, bound, lambda r: r["item"], size, slide, lambda r: r["behavior"] == "pv")
    by_window = defaultdict(list)
    for (item, end), c in counts.items():
        by_window[end].append((item, c))
    lines = ["%d,%d,%d,%d" % (end, i + 1, item, c)
             for end, items in by_window.items() for i, (item, c) in enumerate(rank(items, top))]
    return {"hot-items": sorted(lines)}


def is_page(url):
    return not url.endswith((".css", ".js", ".png", ".ico"))


def hot_pages(path, top=3, size=600000, slide=5000, lateness=60000, bound=DEFAULT_BOUNDS["ApacheLog"]):
    records, _ = read(path, parse_apache_log)
    total, on_time, late = defaultdict(int), defaultdict(int), []
    for r, watermark in with_watermarks(records, bound):
        if not is_page(r["url"]):
            continue
        handled = False
        for end in sliding_windows(r["ts"], size, slide):
            if is_late(end, watermark, lateness):
                continue
            handled = True
            total[(r["url"], end)] += 1
            if not is_late(end, watermark):
                on_time[(r["url"], end)] += 1
        if not handled and watermark is not None and r["ts"] + lateness <= watermark:
            late.append("%d,%s" % (r["ts"], r["url"]))
    windows = defaultdict(list)
    for (url, end), c in total.items():
        windows[end].append((url, c, on_time.get((url, end), 0)))
    lines = []
    for end, pages in windows.items():
        ranked = rank([(url, o) for url, _, o in pages if o > 0], top)
        lines += ["%d,ontime,%d,%s,%d" % (end, i + 1, url, c) for i, (url, c) in enumerate(ranked)]
        if any(c != o for _, c, o in pages):
            ranked = rank([(url, c) for url, c, _ in pages], top)
            lines += ["%d,updated,%d,%s,%d" % (end, i + 1, url, c) for i, (url, c) in enumerate(ranked)]
    return {"hot-pages": sorted(lines), "late-pages": sorted(late)}


def page_view(path, size=3600000, bound=DEFAULT_BOUNDS["UserBehavior"]):
    records, _ = read(path, parse_user_behavior)
    counts = window_counts(records, bound, lambda r: 0, size, size, lambda r: r["behavior"] == "pv")
    return {"page-view": sorted("%d,%d" % (end, c) for (_, end), c in counts.items())}


MASK64 = (1 << 64) - 1


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def bloom_add(bits, bit_count, hashes, user):
    """Sets the bits of `user` in the bytearray `bits`; whether any was unset."""
    h1 = mix64(user & MASK64)
    h2 = mix64(h1) | 1
    added = False
    for i in range(hashes):
        bit = ((h1 + i * h2) & MASK64) % bit_count
        if not bits[bit // 8] & (1 << (bit % 8)):
            bits[bit // 8] |= 1 << (bit % 8)
            added = True
    return added


def unique_visitor(path, size=3600000, bloom_bits=1 << 20, bloom_hashes=3, bound=DEFAULT_BOUNDS["UserBehavior"]):
    records, _ = read(path, parse_user_behavior)
    users, filters, bloom = defaultdict(set), {}, defaultdict(int)
    for r, watermark in with_watermarks(records, bound):
        if r["behavior"] != "pv":
            continue
        end = r["ts"] - r["ts"] % size + size
        if not is_late(end, watermark):
            users[end].add(r["user"])
        bits = filters.setdefault(end, bytearray((bloom_bits + 7) // 8))
        if bloom_add(bits, bloom_bits, bloom_hashes, r["user"]):
            bloom[end] += 1
    lines = ["%d,exact,%d" % (end, len(u)) for end, u in users.items()]
    lines += ["%d,bloom,%d" % (end, bloom[end]) for end in filters]
    return {"unique-visitor": sorted(lines)}


def app_marketing(path, size=3600000, slide=5000, bound=DEFAULT_BOUNDS["AppMarketing"]):
    records, _ = read(path, parse_marketing)
    by_channel = window_counts(records, bound, lambda r: (r["channel"], r["behavior"]), size, slide)
    total = window_counts(records, bound, lambda r: None, size, slide)
    lines = ["%d,%s,%s,%d" % (end, channel, behavior, c) for ((channel, behavior), end), c in by_channel.items()]
    lines += ["%d,ALL,ALL,%d" % (end, c) for (_, end), c in total.items()]
    return {"app-marketing": sorted(lines)}


def utc_date(ms):
    return datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc).strftime("%Y-%m-%d")


def ad_click_statistics(path, max_clicks=100, size=3600000, slide=5000, bound=DEFAULT_BOUNDS["AdClickLog"]):
    records, _ = read(path, parse_ad_click)
    per_day, passed, blacklist = defaultdict(int), [], []
    for r in records:
        key = (r["user"], r["ad"], r["ts"] // DAY_MS)
        per_day[key] += 1
        if per_day[key] <= max_clicks:
            passed.append(r)
        elif per_day[key] == max_clicks + 1:
            blacklist.append("%d,%d,%s" % (r["user"], r["ad"], utc_date(r["ts"])))
    # The watermarks still come from every click, passed or not.
    passed_ids = set(map(id, passed))
    counts = window_counts(records, bound, lambda r: r["province"], size, slide, lambda r: id(r) in passed_ids)
    return {"ad-clicks": sorted("%d,%s,%d" % (end, p, c) for (p, end), c in counts.items()),
            "blacklist": sorted(blacklist)}


def login_fail_detect(path, fails=2, within=2000):
    records, _ = read(path, parse_login)
    by_user = defaultdict(list)
    for r in records:
        by_user[r["user"]].append(r)
    lines = []
    for user, logins in by_user.items():
        logins.sort(key=lambda r: r["ts"])  # stable: ties keep file order
        run = []
        for r in logins:
            if r["type"] != "fail":
                run = []
                continue
            run = (run + [r["ts"]])[-fails:]
            if len(run) == fails and run[-1] - run[0] < within:
                lines.append("%d,%d,%d,%d" % (user, run[0], run[-1], fails))
    return {"login-fail": sorted(lines)}


def order_timeout(path, timeout=900000):
    records, _ = read(path, parse_order)
    created, paid = {}, {}
    for r in records:
        (created if r["type"] == "create" else paid).setdefault(r["order"], r["ts"])
    matched, timed_out = [], []
    for order, c in created.items():
        p = paid.get(order)
        if p is not None and c < p < c + timeout:
            matched.append("%d,%d,%d" % (order, c, p))
        else:
            timed_out.append("%d,%d" % (order, c))
    return {"orders-paid": sorted(matched), "orders-timed-out": sorted(timed_out)}


JOBS = {"HotItems": hot_items, "HotPages": hot_pages, "PageView": page_view, "UniqueVisitor": unique_visitor,
        "AppMarketing": app_marketing, "AdClickStatistics": ad_click_statistics,
        "LoginFailDetect": login_fail_detect, "OrderTimeout": order_timeout}


def main(argv):
    if len(argv) < 3 or argv[1] not in JOBS or len(argv) % 2 != 1:
        sys.exit("usage: reference.py <%s> <input> [--option value ...]" % "|".join(JOBS))
    options = {argv[i][2:].replace("-", "_"): int(argv[i + 1]) for i in range(3, len(argv), 2)}
    for stream, lines in JOBS[argv[1]](argv[2], **options).items():
        for line in lines:
            print("%s: %s" % (stream, line))


if __name__ == "__main__":
    main(sys.argv)
