// WordCount and SocketWordCount: the streaming word counts of the quick start.
//
//   eddy run -c WordCount libeddy-examples.so [--input PATH] [--output DIR]
//   eddy run -c SocketWordCount libeddy-examples.so --hostname H --port P [--output DIR]
//   eddy run -c SocketWindowWordCount libeddy-examples.so --hostname H --port P [--window-ms 5000]
//
// Words are the maximal runs of [a-z0-9] after ASCII lower-casing. Like Flink's
// streaming WordCount, every count change is emitted as (word,count), so the
// last line for a word holds its total.
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include <eddy/eddy.h>

namespace {

using WordCount = std::pair<std::string, int64_t>;

constexpr const char* kDefaultText =
    "To be, or not to be,--that is the question:--\n"
    "Whether 'tis nobler in the mind to suffer\n"
    "The slings and arrows of outrageous fortune\n"
    "Or to take arms against a sea of troubles,\n"
    "And by opposing end them?--To die,--to sleep,--\n"
    "No more; and by a sleep to say we end\n"
    "The heartache, and the thousand natural shocks\n"
    "That flesh is heir to,--'tis a consummation\n"
    "Devoutly to be wish'd. To die,--to sleep;--\n";

// Splits a line into (word,1) pairs.
class Tokenizer : public eddy::FlatMapFunction<std::string, WordCount> {
 public:
  void flatMap(const std::string& line, eddy::Collector<WordCount>& out) override {
    word_.first.clear();
    word_.second = 1;
    for (char ch : line) {
      char c = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        word_.first.push_back(c);
      } else if (!word_.first.empty()) {
        out.collect(word_);
        word_.first.clear();
      }
    }
    if (!word_.first.empty()) out.collect(word_);
  }

 private:
  WordCount word_;
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

void CountAndEmit(eddy::DataStream<std::string> text, const eddy::ParameterTool& args) {
  auto counts = text.flatMap(Tokenizer()).name("tokenizer").uid("tokenizer")
                    .keyBy([](const WordCount& wc) { return wc.first; })
                    .sum(1).name("counter").uid("counter");
  if (args.has("output")) {
    counts.sinkTo(eddy::FileSink::forRowFormat(args.get("output"))).name("file-sink").uid("file-sink");
  } else {
    counts.print().name("print-sink").uid("print-sink");
  }
}

}  // namespace

EDDY_PROGRAM(WordCount, env, args) {
  eddy::DataStream<std::string> text =
      args.has("input") ? eddy::DataStream<std::string>(env.readTextFile(args.get("input")))
                        : eddy::DataStream<std::string>(env.fromCollection(Lines(kDefaultText)));
  CountAndEmit(text, args);
  env.execute("Streaming WordCount");
}

EDDY_PROGRAM(SocketWordCount, env, args) {
  std::string host = args.get("hostname", "localhost");
  int port = args.getInt("port", 0);
  if (port <= 0) throw std::invalid_argument("SocketWordCount needs --port <port> (and --hostname)");
  CountAndEmit(env.socketTextStream(host, port), args);
  env.execute("Socket WordCount");
}

// Word counts per 5-second tumbling window of processing time.
EDDY_PROGRAM(SocketWindowWordCount, env, args) {
  std::string host = args.get("hostname", "localhost");
  int port = args.getInt("port", 0);
  if (port <= 0) throw std::invalid_argument("SocketWindowWordCount needs --port <port> (and --hostname)");
  auto window = std::chrono::milliseconds(args.getLong("window-ms", 5000));
  auto counts = env.socketTextStream(host, port)
                    .flatMap(Tokenizer()).name("tokenizer").uid("tokenizer")
                    .keyBy([](const WordCount& wc) { return wc.first; })
                    .window(eddy::TumblingProcessingTimeWindows::of(window))
                    .sum(1).name("window-counter").uid("window-counter");
  if (args.has("output")) {
    counts.sinkTo(eddy::FileSink::forRowFormat(args.get("output"))).name("file-sink").uid("file-sink");
  } else {
    counts.print().name("print-sink").uid("print-sink");
  }
  env.execute("Socket Window WordCount");
}
