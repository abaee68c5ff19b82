// The hand-written baseline: runs one query's reference implementation over
// the same generated events as the engine and prints its speed.
//
//   nexmark_reference --query q5 --events 1000000 [--time-rate R]
//   [--out-of-order-ms D]
//
// prints "query=q5 events=1000000 results=N seconds=S events_per_second=E".
// With --print it prints the results instead, one per line as the file sink
// writes them (created_us is 0): what run_nexmark.py --check compares the
// engine's output with.
#include <eddy/eddy.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "reference.h"

namespace {

using Runner = std::function<int64_t(const nexmark::GeneratorConfig&, bool print)>;

// Runs `reference` and returns how many results it emitted; prints them if asked.
template <class R>
Runner Counting(void (*reference)(const nexmark::GeneratorConfig&, const nexmark::Emit<R>&)) {
  return [reference](const nexmark::GeneratorConfig& config, bool print) {
    int64_t results = 0;
    std::string line;
    reference(config, [&](const R& result) {
      ++results;
      if (!print) return;
      line.clear();
      eddy::AppendToString(line, result);
      line += '\n';
      std::fwrite(line.data(), 1, line.size(), stdout);
    });
    return results;
  };
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const eddy::ParameterTool args = eddy::ParameterTool::fromArgs(std::vector<std::string>(argv + 1, argv + argc));
    const std::map<std::string, Runner> queries = {
        {"q0", Counting(nexmark::ReferenceQ0)},   {"q1", Counting(nexmark::ReferenceQ1)},
        {"q2", Counting(nexmark::ReferenceQ2)},   {"q3", Counting(nexmark::ReferenceQ3)},
        {"q4", Counting(nexmark::ReferenceQ4)},   {"q5", Counting(nexmark::ReferenceQ5)},
        {"q7", Counting(nexmark::ReferenceQ7)},   {"q8", Counting(nexmark::ReferenceQ8)},
        {"q11", Counting(nexmark::ReferenceQ11)}, {"q12", Counting(nexmark::ReferenceQ12Totals)}};
    const std::string query = args.getRequired("query");
    auto it = queries.find(query);
    if (it == queries.end()) throw std::invalid_argument("unknown query '" + query + "' (q0-q5, q7, q8, q11, q12)");
    const nexmark::GeneratorConfig config = nexmark::GeneratorConfig::FromArgs(args);
    const auto start = std::chrono::steady_clock::now();
    const bool print = args.has("print");
    const int64_t results = it->second(config, print);
    if (print) return 0;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf(
        "query=%s events=%lld results=%lld seconds=%.3f "
        "events_per_second=%.0f\n",
        query.c_str(), static_cast<long long>(config.events), static_cast<long long>(results), seconds,
        static_cast<double>(config.events) / seconds);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "Error: %s\n", e.what());
    return 1;
  }
}
