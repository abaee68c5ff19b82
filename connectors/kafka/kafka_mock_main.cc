// eddy-kafka-mock: a mock Kafka cluster for trying Kafka jobs without a broker.
//
//   eddy-kafka-mock --brokers 3 --topic events:4 --topic results:1
//
// prints "bootstrap.servers=<host:port,...>" on stdout and serves until
// SIGTERM or SIGINT, or until stdin - when it is a pipe, socket or terminal -
// is closed (so a parent process that dies takes it along; /dev/null is not
// watched). kcat and Eddy jobs connect to the printed servers.
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "connectors/kafka/kafka_testing.h"

namespace {

volatile std::sig_atomic_t stop_requested = 0;
void RequestStop(int) { stop_requested = 1; }

int Usage(const char* problem) {
  std::fprintf(stderr,
               "eddy-kafka-mock: %s\n"
               "usage: eddy-kafka-mock [--brokers N] [--topic NAME:PARTITIONS]...\n",
               problem);
  return 2;
}

// Parses a positive count, or returns -1.
int PositiveInt(const std::string& text) {
  try {
    size_t used = 0;
    const int v = std::stoi(text, &used);
    return used == text.size() && v > 0 ? v : -1;
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 1;
  std::vector<std::pair<std::string, int>> topics;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return Usage("a mock Kafka cluster");
    if (i + 1 >= argc) return Usage(("missing value after " + arg).c_str());
    const std::string value = argv[++i];
    if (arg == "--brokers") {
      brokers = PositiveInt(value);
      if (brokers < 0) return Usage(("--brokers needs a positive number, got '" + value + "'").c_str());
    } else if (arg == "--topic") {
      const size_t colon = value.rfind(':');
      const int partitions = colon == std::string::npos ? -1 : PositiveInt(value.substr(colon + 1));
      if (colon == 0 || partitions < 0) {
        return Usage(("--topic needs NAME:PARTITIONS, got '" + value + "'").c_str());
      }
      topics.emplace_back(value.substr(0, colon), partitions);
    } else {
      return Usage(("unknown option " + arg).c_str());
    }
  }

  std::signal(SIGTERM, RequestStop);
  std::signal(SIGINT, RequestStop);
  try {
    eddy::connectors::kafka_testing::MockCluster cluster(brokers);
    for (const auto& [name, partitions] : topics) cluster.CreateTopic(name, partitions);
    std::printf("bootstrap.servers=%s\n", cluster.bootstrap_servers().c_str());
    std::fflush(stdout);
    struct stat in_stat {};
    bool watch_stdin = ::fstat(STDIN_FILENO, &in_stat) == 0 &&
                       (S_ISFIFO(in_stat.st_mode) || S_ISSOCK(in_stat.st_mode) || ::isatty(STDIN_FILENO));
    while (!stop_requested) {
      pollfd in{STDIN_FILENO, POLLIN, 0};
      if (watch_stdin && ::poll(&in, 1, 200) > 0) {
        char buffer[256];
        const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
        if (n == 0) break;  // stdin closed
        if (n < 0) watch_stdin = false;
      } else if (!watch_stdin) {
        ::usleep(200 * 1000);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eddy-kafka-mock: %s\n", e.what());
    return 1;
  }
  return 0;
}
