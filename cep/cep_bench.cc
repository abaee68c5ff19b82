// The login-failure pattern (two failed logins of a user in a row, within
// 2 s) through the CEP operator on the embedded cluster at parallelism 1,
// against a hand-written per-user state machine over the same events in a
// plain loop (and, for scale, the same job without CEP). Prints events/s and
// CPU use and checks that CEP and the loop found the same number of matches
// (exit 1 if not).
//
//   cep_bench [--events 2000000] [--users 1000] [--fail-percent 30]
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "eddy/cep.h"
#include "eddy/eddy.h"

namespace cep_bench {

struct Login {
  int64_t user = 0;
  bool failed = false;
  int64_t time = 0;
};
EDDY_FIELDS(Login, user, failed, time);

}  // namespace cep_bench

namespace {

using cep_bench::Login;

struct Options {
  int64_t events = 2'000'000;
  int64_t users = 1000;
  int64_t fail_percent = 30;
};

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Event i: a random user, failed with the given odds, at time 2 * i ms (so a
// user's logins are about 2 * users ms apart, around the 2 s window).
Login Generate(int64_t i, const Options& o) {
  const uint64_t r = SplitMix(static_cast<uint64_t>(i));
  return Login{static_cast<int64_t>(r % static_cast<uint64_t>(o.users)),
               static_cast<int64_t>((r >> 32) % 100) < o.fail_percent, 2 * i};
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Measured {
  int64_t matches = 0;
  double wall = 0;
  double cpu = 0;
};

template <class F>
Measured Measure(F run) {
  const double cpu0 = CpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  Measured m;
  m.matches = run();
  m.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  m.cpu = CpuSeconds() - cpu0;
  return m;
}

std::atomic<int64_t> g_matches{0};

// The generated, timestamped logins of the benchmark.
auto Logins(eddy::StreamExecutionEnvironment& env, const Options& o) {
  return env.addSource(eddy::DataGeneratorSource<Login>([o](int64_t i) { return Generate(i, o); }, o.events))
      .assignTimestampsAndWatermarks(eddy::WatermarkStrategy<Login>::forMonotonousTimestamps().withTimestampAssigner(
          [](const Login& l, int64_t) { return l.time; }));
}

// The same job without CEP (a keyed filter that passes nothing): what the
// source, watermarks and keyBy cost on their own.
int64_t RunPipelineOnly(const Options& o) {
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(1);
  Logins(env, o)
      .keyBy([](const Login& l) { return l.user; })
      .filter([](const Login& l) { return l.time < 0; })
      .addSink([](const Login&) {});
  env.execute("pipeline without CEP");
  return 0;
}

int64_t RunCep(const Options& o) {
  g_matches = 0;
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(1);
  auto pattern = eddy::cep::Pattern<Login>::begin("fail")
                     .where([](const Login& l) { return l.failed; })
                     .next("fail2")
                     .where([](const Login& l) { return l.failed; })
                     .within(std::chrono::seconds(2));
  eddy::cep::CEP::pattern(Logins(env, o).keyBy([](const Login& l) { return l.user; }), pattern)
      .select([](const eddy::cep::Match<Login>& m) { return m.at("fail").front().user; })
      .addSink([](const int64_t&) { g_matches.fetch_add(1, std::memory_order_relaxed); });
  env.execute("CEP login-fail benchmark");
  return g_matches.load();
}

// The same detection by hand: per user, the last login's outcome and time.
int64_t RunLoop(const Options& o) {
  struct Last {
    bool failed = false;
    int64_t time = 0;
  };
  std::vector<Last> last(static_cast<size_t>(o.users));
  int64_t matches = 0;
  for (int64_t i = 0; i < o.events; ++i) {
    const Login l = Generate(i, o);
    Last& prev = last[static_cast<size_t>(l.user)];
    if (l.failed && prev.failed && l.time - prev.time < 2000) ++matches;
    prev = Last{l.failed, l.time};
  }
  return matches;
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int64_t value = std::atoll(argv[i + 1]);
    if (flag == "--events") {
      o.events = value;
    } else if (flag == "--users") {
      o.users = value;
    } else if (flag == "--fail-percent") {
      o.fail_percent = value;
    } else {
      std::fprintf(stderr, "unknown option %s (use --events, --users, --fail-percent)\n", flag.c_str());
      std::exit(2);
    }
  }
  if (o.events < 1 || o.users < 1 || o.fail_percent < 0 || o.fail_percent > 100) {
    std::fprintf(stderr, "need --events >= 1, --users >= 1 and 0 <= --fail-percent <= 100\n");
    std::exit(2);
  }
  return o;
}

void Print(const char* what, const Measured& m, int64_t events) {
  std::printf("%-22s %10.0f events/s  wall %.3f s  cpu %.3f s (%.2f cores)  matches %lld\n", what,
              static_cast<double>(events) / m.wall, m.wall, m.cpu, m.cpu / m.wall, static_cast<long long>(m.matches));
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  std::printf("login-fail: %lld events, %lld users, %lld%% failures\n", static_cast<long long>(o.events),
              static_cast<long long>(o.users), static_cast<long long>(o.fail_percent));
  const Measured loop = Measure([&] { return RunLoop(o); });
  const Measured pipeline = Measure([&] { return RunPipelineOnly(o); });
  const Measured cep = Measure([&] { return RunCep(o); });
  Print("hand-written loop", loop, o.events);
  Print("job without CEP", pipeline, o.events);
  Print("CEP, embedded cluster", cep, o.events);
  std::printf("ratio (loop / CEP events/s): %.1fx\n", cep.wall / loop.wall);
  if (cep.matches != loop.matches) {
    std::printf("MISMATCH: CEP found %lld matches, the loop %lld\n", static_cast<long long>(cep.matches),
                static_cast<long long>(loop.matches));
    return 1;
  }
  std::printf("both found %lld matches\n", static_cast<long long>(cep.matches));
  return 0;
}
