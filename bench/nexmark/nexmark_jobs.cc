// The Nexmark programs of libeddy-nexmark.so: NexmarkQ0 ... NexmarkQ12.
//
//   eddy run -c NexmarkQ5 libeddy-nexmark.so --events 1000000 [--rate R]
//       [--output DIR | --stats-dir DIR] [--time-rate R] [--out-of-order-ms D]
//       [--base-time MS] [--linger-ms MS] [--q12-window-ms MS]
//
// --output writes the results with a FileSink; otherwise they are discarded
// and, with --stats-dir, the sink records their latency and the sources
// their emission times there (see latency_sink.h and NexmarkSource).
#include <eddy/eddy.h>

#include <chrono>
#include <string>

#include "latency_sink.h"
#include "queries.h"

namespace {

template <class R, class Query>
void RunQuery(eddy::StreamExecutionEnvironment& env, const eddy::ParameterTool& args, const std::string& name,
              Query query) {
  const nexmark::GeneratorConfig config = nexmark::GeneratorConfig::FromArgs(args);
  const int64_t rate = args.getLong("rate", 0);
  const int64_t linger_ms = args.getLong("linger-ms", 0);
  if (rate < 0 || linger_ms < 0) throw std::invalid_argument("--rate and --linger-ms must not be negative");
  const std::string stats_dir = args.get("stats-dir");
  eddy::DataStream<R> results =
      query(nexmark::NexmarkEvents(env, config, static_cast<double>(rate), stats_dir, linger_ms));
  if (args.has("output")) {
    results.sinkTo(eddy::FileSink::forRowFormat(args.get("output"))).uid(name + "-file-sink");
  } else {
    results.addSink(nexmark::LatencySink<R>(stats_dir), "latency").uid(name + "-latency-sink");
  }
  env.execute("Nexmark " + name);
}

}  // namespace

EDDY_PROGRAM(NexmarkQ0, env, args) { RunQuery<nexmark::Event>(env, args, "q0", nexmark::Q0); }
EDDY_PROGRAM(NexmarkQ1, env, args) { RunQuery<nexmark::Q1Result>(env, args, "q1", nexmark::Q1); }
EDDY_PROGRAM(NexmarkQ2, env, args) { RunQuery<nexmark::Q2Result>(env, args, "q2", nexmark::Q2); }
EDDY_PROGRAM(NexmarkQ3, env, args) { RunQuery<nexmark::Q3Result>(env, args, "q3", nexmark::Q3); }
EDDY_PROGRAM(NexmarkQ4, env, args) { RunQuery<nexmark::Q4Result>(env, args, "q4", nexmark::Q4); }
EDDY_PROGRAM(NexmarkQ5, env, args) { RunQuery<nexmark::Q5Result>(env, args, "q5", nexmark::Q5); }
EDDY_PROGRAM(NexmarkQ7, env, args) { RunQuery<nexmark::Q7Result>(env, args, "q7", nexmark::Q7); }
EDDY_PROGRAM(NexmarkQ8, env, args) { RunQuery<nexmark::Q8Result>(env, args, "q8", nexmark::Q8); }
EDDY_PROGRAM(NexmarkQ11, env, args) { RunQuery<nexmark::Q11Result>(env, args, "q11", nexmark::Q11); }
EDDY_PROGRAM(NexmarkQ12, env, args) {
  const int64_t window_ms = args.getLong("q12-window-ms", 10'000);
  if (window_ms <= 0) throw std::invalid_argument("--q12-window-ms must be positive");
  RunQuery<nexmark::Q12Result>(env, args, "q12", [window_ms](eddy::DataStream<nexmark::Event> events) {
    return nexmark::Q12(events, std::chrono::milliseconds(window_ms));
  });
}
