// End-to-end tests of the DataStream API on the embedded local cluster. Every
// transformation runs once at parallelism 1 and once at a random parallelism in
// [2, 4]; its output is compared with a reference computed in plain C++ here,
// as a multiset where the order across subtasks is undefined and in order per
// key where Flink guarantees it (records of one key from one producer).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <thread>
#include <vector>

#include <unistd.h>

#include <eddy/eddy.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eddy_datastream_test {

// A record type with EDDY_FIELDS, for aggregations by member.
struct Reading {
  std::string sensor;
  int64_t seq = 0;
  int32_t value = 0;
  double weight = 0;
  bool operator==(const Reading&) const = default;
  bool operator<(const Reading& o) const {
    return std::tie(sensor, seq, value, weight) < std::tie(o.sensor, o.seq, o.value, o.weight);
  }
};
EDDY_FIELDS(Reading, sensor, seq, value, weight);
void PrintTo(const Reading& r, std::ostream* os) { *os << eddy::ToString(r); }

// Running sums per key, as a keyed reduce emits them.
struct Summary {
  int32_t key = 0;
  int64_t count = 0;
  int64_t bytes = 0;
  uint64_t hash_sum = 0;
};
EDDY_FIELDS(Summary, key, count, bytes, hash_sum);

namespace {

using ::testing::HasSubstr;

// ---- Helpers ----

// Where sinks put what they receive. Sinks are copied per subtask, so they
// hold a pointer to one of these, which lives in the test body (execute() is
// synchronous).
template <class T>
class Results {
 public:
  void Add(const T& v) {
    std::lock_guard<std::mutex> lock(mu_);
    values_.push_back(v);
  }
  // A sink function appending to this collection.
  auto Sink() {
    return [this](const T& v) { Add(v); };
  }
  std::vector<T> values() {
    std::lock_guard<std::mutex> lock(mu_);
    return values_;
  }
  std::vector<T> sorted() {
    std::vector<T> v = values();
    std::sort(v.begin(), v.end());
    return v;
  }

 private:
  std::mutex mu_;
  std::vector<T> values_;
};

template <class T>
std::vector<T> Sorted(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// prefix + decimal v.
std::string Cat(const char* prefix, int64_t v) { return std::string(prefix) + std::to_string(v); }

std::mt19937& Rng() {
  static std::mt19937 rng = [] {
    const unsigned seed = std::random_device{}();
    std::printf("datastream_test random seed: %u\n", seed);
    return std::mt19937(seed);
  }();
  return rng;
}

// 1 and a random parallelism in [2, 4]: results must not depend on it.
std::vector<int> Parallelisms() { return {1, std::uniform_int_distribution<int>(2, 4)(Rng())}; }

std::vector<int64_t> Range(int64_t from, int64_t to) {
  std::vector<int64_t> v;
  for (int64_t i = from; i <= to; ++i) v.push_back(i);
  return v;
}

// Splits `v` by key, keeping the order of arrival within each key.
template <class T, class KeyFn>
auto GroupByKey(const std::vector<T>& v, KeyFn key) {
  std::map<std::decay_t<decltype(key(v.front()))>, std::vector<T>> groups;
  for (const T& x : v) groups[key(x)].push_back(x);
  return groups;
}

// Runs the job and returns the message of the JobExecutionException it throws.
std::string ExecuteError(eddy::StreamExecutionEnvironment& env) {
  try {
    env.execute("failing job");
  } catch (const eddy::JobExecutionException& e) {
    return e.what();
  }
  return "<execute() did not throw JobExecutionException>";
}

// The subtask of a SequenceSource(from, to) at parallelism p that emits `v`
// (subtask i emits the contiguous range [from + n*i/p, from + n*(i+1)/p)).
int SequenceProducer(int64_t from, int64_t to, int p, int64_t v) {
  const int64_t n = to - from + 1;
  for (int i = 0; i < p; ++i) {
    if (v - from < n * (i + 1) / p) return i;
  }
  return -1;
}

// Tags each record with the index of the subtask that mapped it.
template <class T>
class TagSubtask : public eddy::RichMapFunction<T, std::pair<T, int32_t>> {
 public:
  std::pair<T, int32_t> map(const T& value) override {
    return {value, this->getRuntimeContext().getIndexOfThisSubtask()};
  }
};

// ---- map / flatMap / filter ----

class Describe : public eddy::MapFunction<int64_t, std::string> {
 public:
  std::string map(const int64_t& v) override { return Cat("v=", v); }
};

TEST(DataStreamTest, MapWithLambdaAndFunctionClass) {
  std::vector<int32_t> input;
  for (int i = 0; i < 500; ++i) input.push_back(std::uniform_int_distribution<int32_t>(-1000, 1000)(Rng()));
  std::vector<int64_t> expected_lambda;
  for (int32_t x : input) expected_lambda.push_back(int64_t{x} * 3 + 1);
  std::vector<std::string> expected_class;
  for (int64_t v = 10; v <= 400; ++v) expected_class.push_back(Cat("v=", v));

  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<int64_t> lambda_out;
    Results<std::string> class_out;
    env.fromCollection(input)
        .map([](const int32_t& x) { return int64_t{x} * 3 + 1; })
        .addSink(lambda_out.Sink());
    env.fromSequence(10, 400).map(Describe()).addSink(class_out.Sink());
    env.execute("map");
    EXPECT_EQ(lambda_out.sorted(), Sorted(expected_lambda));
    EXPECT_EQ(class_out.sorted(), Sorted(expected_class));
  }
}

using WordOne = std::pair<std::string, int32_t>;

class Tokenizer : public eddy::FlatMapFunction<std::string, WordOne> {
 public:
  void flatMap(const std::string& line, eddy::Collector<WordOne>& out) override {
    std::string word;
    for (char c : line + " ") {
      if (c == ' ') {
        if (!word.empty()) out.collect({word, 1});
        word.clear();
      } else {
        word.push_back(c);
      }
    }
  }
};

std::vector<std::string> SplitWords(const std::string& line) {
  std::vector<std::string> words;
  size_t start = 0;
  while (start <= line.size()) {
    size_t end = line.find(' ', start);
    if (end == std::string::npos) end = line.size();
    if (end > start) words.push_back(line.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

TEST(DataStreamTest, FlatMapWithCollectorLambdaAndFunctionClass) {
  const std::vector<std::string> lines = {"to be or not to be", "", "  that is  the question ",
                                          "whether", "tis nobler in the mind"};
  std::vector<std::string> expected_words;
  std::vector<WordOne> expected_pairs;
  for (const std::string& line : lines) {
    for (const std::string& w : SplitWords(line)) {
      expected_words.push_back(w);
      expected_pairs.push_back({w, 1});
    }
  }
  // A flatMap that emits v copies of v: zero outputs for 0.
  std::vector<int64_t> expected_repeat;
  for (int64_t v = 0; v <= 30; ++v) {
    for (int64_t k = 0; k < v; ++k) expected_repeat.push_back(v);
  }

  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<std::string> words;
    Results<WordOne> pairs;
    Results<int64_t> repeated;
    auto text = env.fromCollection(lines);
    text.flatMap([](const std::string& line, eddy::Collector<std::string>& out) {
          for (const std::string& w : SplitWords(line)) out.collect(w);
        })
        .addSink(words.Sink());
    text.flatMap(Tokenizer()).addSink(pairs.Sink());
    env.fromSequence(0, 30)
        .flatMap([](const int64_t& v, eddy::Collector<int64_t>& out) {
          for (int64_t k = 0; k < v; ++k) out.collect(v);
        })
        .addSink(repeated.Sink());
    env.execute("flatMap");
    EXPECT_EQ(words.sorted(), Sorted(expected_words));
    EXPECT_EQ(pairs.sorted(), Sorted(expected_pairs));
    EXPECT_EQ(repeated.sorted(), Sorted(expected_repeat));
  }
}

class DivisibleBy : public eddy::FilterFunction<int64_t> {
 public:
  explicit DivisibleBy(int64_t d) : d_(d) {}
  bool filter(const int64_t& v) override { return v % d_ == 0; }

 private:
  int64_t d_;
};

TEST(DataStreamTest, FilterKeepsMatchingRecords) {
  std::vector<int64_t> expected_even, expected_div7_pos;
  for (int64_t v = -500; v <= 1500; ++v) {
    if (v % 2 == 0) expected_even.push_back(v);
    if (v % 7 == 0 && v > 0) expected_div7_pos.push_back(v);
  }
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<int64_t> even, div7;
    auto numbers = env.fromSequence(-500, 1500);
    numbers.filter([](const int64_t& v) { return v % 2 == 0; }).addSink(even.Sink());
    numbers.filter(DivisibleBy(7)).filter([](const int64_t& v) { return v > 0; }).addSink(div7.Sink());
    env.execute("filter");
    EXPECT_EQ(even.sorted(), expected_even);
    EXPECT_EQ(div7.sorted(), expected_div7_pos);
  }
}

// ---- keyBy + rolling aggregations ----

TEST(DataStreamTest, KeyBySumByPositionOnPairsAndTuples) {
  using KV = std::pair<std::string, int64_t>;
  using Row = std::tuple<std::string, int32_t, double>;
  std::vector<KV> pairs;
  std::vector<Row> rows;
  for (int i = 0; i < 400; ++i) {
    std::string key = Cat("k", std::uniform_int_distribution<int>(0, 6)(Rng()));
    pairs.push_back({key, std::uniform_int_distribution<int64_t>(-1000, 1000)(Rng())});
    rows.push_back({key, std::uniform_int_distribution<int32_t>(0, 100)(Rng()), i * 0.25});
  }
  // Per key, in input order: the key's running sum; other fields are those of
  // the key's first record.
  std::map<std::string, std::vector<KV>> expected_pairs;
  std::map<std::string, int64_t> pair_sum;
  for (const KV& kv : pairs) {
    pair_sum[kv.first] += kv.second;
    expected_pairs[kv.first].push_back({kv.first, pair_sum[kv.first]});
  }
  std::map<std::string, std::vector<Row>> expected_rows;
  std::map<std::string, Row> row_acc;
  for (const Row& r : rows) {
    const std::string& key = std::get<0>(r);
    auto it = row_acc.find(key);
    if (it == row_acc.end()) {
      it = row_acc.emplace(key, r).first;
    } else {
      std::get<1>(it->second) += std::get<1>(r);
    }
    expected_rows[key].push_back(it->second);
  }
  // min(1): field 1 is the minimum so far, the rest the first record's;
  // maxBy(1): the first record holding the maximum of field 1.
  std::map<std::string, std::vector<Row>> expected_min, expected_max_by;
  std::map<std::string, Row> min_acc, max_by_acc;
  for (const Row& r : rows) {
    const std::string& key = std::get<0>(r);
    auto [m, m_first] = min_acc.emplace(key, r);
    if (!m_first) std::get<1>(m->second) = std::min(std::get<1>(m->second), std::get<1>(r));
    expected_min[key].push_back(m->second);
    auto [b, b_first] = max_by_acc.emplace(key, r);
    if (!b_first && std::get<1>(r) > std::get<1>(b->second)) b->second = r;
    expected_max_by[key].push_back(b->second);
  }

  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<KV> pair_out;
    Results<Row> row_out, row_min, row_max_by;
    env.fromCollection(pairs).keyBy([](const KV& kv) { return kv.first; }).sum(1).addSink(pair_out.Sink());
    auto keyed_rows = env.fromCollection(rows).keyBy([](const Row& r) { return std::get<0>(r); });
    keyed_rows.sum(1).addSink(row_out.Sink());
    keyed_rows.min(1).addSink(row_min.Sink());
    keyed_rows.maxBy(1).addSink(row_max_by.Sink());
    env.execute("sum by position");
    EXPECT_EQ(GroupByKey(pair_out.values(), [](const KV& kv) { return kv.first; }), expected_pairs);
    EXPECT_EQ(GroupByKey(row_out.values(), [](const Row& r) { return std::get<0>(r); }), expected_rows);
    EXPECT_EQ(GroupByKey(row_min.values(), [](const Row& r) { return std::get<0>(r); }), expected_min);
    EXPECT_EQ(GroupByKey(row_max_by.values(), [](const Row& r) { return std::get<0>(r); }), expected_max_by);
  }
}

enum class Agg { kSum, kMin, kMax, kMinBy, kMaxBy };
const char* AggName(Agg agg) {
  switch (agg) {
    case Agg::kSum: return "sum";
    case Agg::kMin: return "min";
    case Agg::kMax: return "max";
    case Agg::kMinBy: return "minBy";
    case Agg::kMaxBy: return "maxBy";
  }
  return "?";
}

// Flink's rolling aggregations over Reading::value, in plain C++: sum/min/max
// change only `value` of the key's first record; minBy/maxBy replace the whole
// record when a strictly smaller/larger value arrives.
std::vector<Reading> ReferenceAggregate(const std::vector<Reading>& input, Agg agg) {
  std::map<std::string, Reading> acc;
  std::vector<Reading> out;
  for (const Reading& r : input) {
    auto it = acc.find(r.sensor);
    if (it == acc.end()) {
      acc.emplace(r.sensor, r);
      out.push_back(r);
      continue;
    }
    Reading& a = it->second;
    switch (agg) {
      case Agg::kSum: a.value += r.value; break;
      case Agg::kMin: a.value = std::min(a.value, r.value); break;
      case Agg::kMax: a.value = std::max(a.value, r.value); break;
      case Agg::kMinBy: if (r.value < a.value) a = r; break;
      case Agg::kMaxBy: if (r.value > a.value) a = r; break;
    }
    out.push_back(a);
  }
  return out;
}

std::vector<Reading> RunAggregation(const std::vector<Reading>& input, Agg agg, int p) {
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(p);
  Results<Reading> out;
  auto keyed = env.fromCollection(input).keyBy([](const Reading& r) { return r.sensor; });
  switch (agg) {
    case Agg::kSum: keyed.sum(&Reading::value).addSink(out.Sink()); break;
    case Agg::kMin: keyed.min(&Reading::value).addSink(out.Sink()); break;
    case Agg::kMax: keyed.max(&Reading::value).addSink(out.Sink()); break;
    case Agg::kMinBy: keyed.minBy(&Reading::value).addSink(out.Sink()); break;
    case Agg::kMaxBy: keyed.maxBy(&Reading::value).addSink(out.Sink()); break;
  }
  env.execute(std::string("aggregation ") + AggName(agg));
  return out.values();
}

auto BySensor = [](const Reading& r) { return r.sensor; };

TEST(DataStreamTest, AggregationsByStructMemberFollowFlinkSemantics) {
  // Hand-checked cases first: one key, ties on the extreme.
  const std::vector<Reading> small = {
      {"a", 1, 5, 0.5}, {"a", 2, 3, 1.5}, {"a", 3, 3, 2.5}, {"a", 4, 9, 3.5}, {"a", 5, 9, 4.5}};
  const std::map<Agg, std::vector<Reading>> hand = {
      {Agg::kSum, {{"a", 1, 5, 0.5}, {"a", 1, 8, 0.5}, {"a", 1, 11, 0.5}, {"a", 1, 20, 0.5}, {"a", 1, 29, 0.5}}},
      {Agg::kMin, {{"a", 1, 5, 0.5}, {"a", 1, 3, 0.5}, {"a", 1, 3, 0.5}, {"a", 1, 3, 0.5}, {"a", 1, 3, 0.5}}},
      {Agg::kMax, {{"a", 1, 5, 0.5}, {"a", 1, 5, 0.5}, {"a", 1, 5, 0.5}, {"a", 1, 9, 0.5}, {"a", 1, 9, 0.5}}},
      {Agg::kMinBy, {{"a", 1, 5, 0.5}, {"a", 2, 3, 1.5}, {"a", 2, 3, 1.5}, {"a", 2, 3, 1.5}, {"a", 2, 3, 1.5}}},
      {Agg::kMaxBy, {{"a", 1, 5, 0.5}, {"a", 1, 5, 0.5}, {"a", 1, 5, 0.5}, {"a", 4, 9, 3.5}, {"a", 4, 9, 3.5}}},
  };
  for (const auto& [agg, expected] : hand) {
    ASSERT_EQ(ReferenceAggregate(small, agg), expected) << "reference for " << AggName(agg);
  }

  std::vector<Reading> input;
  for (int64_t i = 0; i < 600; ++i) {
    input.push_back({Cat("s", std::uniform_int_distribution<int>(0, 9)(Rng())), i,
                     std::uniform_int_distribution<int32_t>(-20, 20)(Rng()), i * 0.5});
  }
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    for (Agg agg : {Agg::kSum, Agg::kMin, Agg::kMax, Agg::kMinBy, Agg::kMaxBy}) {
      SCOPED_TRACE(AggName(agg));
      EXPECT_EQ(RunAggregation(small, agg, p), hand.at(agg));
      EXPECT_EQ(GroupByKey(RunAggregation(input, agg, p), BySensor),
                GroupByKey(ReferenceAggregate(input, agg), BySensor));
    }
  }
}

class MaxReduce : public eddy::RichReduceFunction<std::pair<std::string, int64_t>> {
 public:
  void open(eddy::RuntimeContext& ctx) override { opened_ = true; }
  std::pair<std::string, int64_t> reduce(const std::pair<std::string, int64_t>& a,
                                         const std::pair<std::string, int64_t>& b) override {
    if (!opened_) throw std::logic_error("reduce before open");
    return {a.first, std::max(a.second, b.second)};
  }

 private:
  bool opened_ = false;
};

TEST(DataStreamTest, KeyByReduceIsRollingAndOrderedPerKey) {
  using KV = std::pair<std::string, int64_t>;
  std::vector<KV> input;
  for (int i = 0; i < 500; ++i) {
    input.push_back({Cat("key", std::uniform_int_distribution<int>(0, 12)(Rng())),
                     std::uniform_int_distribution<int64_t>(0, 1000)(Rng())});
  }
  // A non-commutative reduce: its result depends on the order within a key.
  auto fold = [](int64_t acc, int64_t v) { return (acc * 31 + v) % 1000003; };
  std::map<std::string, std::vector<KV>> expected_fold, expected_max;
  std::map<std::string, int64_t> fold_acc, max_acc;
  for (const KV& kv : input) {
    auto [it, first] = fold_acc.emplace(kv.first, kv.second);
    if (!first) it->second = fold(it->second, kv.second);
    expected_fold[kv.first].push_back({kv.first, it->second});
    auto [m, mfirst] = max_acc.emplace(kv.first, kv.second);
    if (!mfirst) m->second = std::max(m->second, kv.second);
    expected_max[kv.first].push_back({kv.first, m->second});
  }
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<KV> folded, maxed;
    auto keyed = env.fromCollection(input).keyBy([](const KV& kv) { return kv.first; });
    keyed.reduce([fold](const KV& a, const KV& b) { return KV{a.first, fold(a.second, b.second)}; })
        .addSink(folded.Sink());
    keyed.reduce(MaxReduce()).addSink(maxed.Sink());
    env.execute("reduce");
    auto key = [](const KV& kv) { return kv.first; };
    EXPECT_EQ(GroupByKey(folded.values(), key), expected_fold);
    EXPECT_EQ(GroupByKey(maxed.values(), key), expected_max);
  }
}

// ---- Rich functions and keyed state ----

struct OpenedSubtask {
  int index;
  int parallelism;
  std::string task_name;
  bool context_is_runtime_context;
};

class RecordOpen : public eddy::RichMapFunction<int64_t, std::pair<int64_t, int32_t>> {
 public:
  RecordOpen(Results<OpenedSubtask>* opened, std::atomic<int>* closed) : opened_(opened), closed_(closed) {}
  void close() override { ++*closed_; }
  void open(eddy::RuntimeContext& ctx) override {
    index_ = getRuntimeContext().getIndexOfThisSubtask();
    opened_->Add({index_, getRuntimeContext().getNumberOfParallelSubtasks(),
                  getRuntimeContext().getTaskName(), &ctx == &getRuntimeContext()});
  }
  std::pair<int64_t, int32_t> map(const int64_t& v) override {
    if (index_ < 0) throw std::logic_error("map before open");
    return {v, index_};
  }

 private:
  Results<OpenedSubtask>* opened_;
  std::atomic<int>* closed_;
  int32_t index_ = -1;
};

TEST(DataStreamTest, RichMapFunctionSeesItsRuntimeContextInOpen) {
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<OpenedSubtask> opened;
    Results<std::pair<int64_t, int32_t>> out;
    std::atomic<int> closed{0};
    env.fromSequence(0, 999).map(RecordOpen(&opened, &closed)).addSink(out.Sink());
    env.execute("rich map");
    EXPECT_EQ(closed.load(), p) << "close() once per subtask";

    std::vector<OpenedSubtask> subtasks = opened.values();
    ASSERT_EQ(subtasks.size(), static_cast<size_t>(p)) << "open() once per subtask";
    std::set<int> indexes;
    for (const OpenedSubtask& s : subtasks) {
      EXPECT_GE(s.index, 0);
      EXPECT_LT(s.index, p);
      EXPECT_EQ(s.parallelism, p);
      EXPECT_FALSE(s.task_name.empty());
      EXPECT_THAT(s.task_name, HasSubstr("Map"));
      EXPECT_TRUE(s.context_is_runtime_context);
      indexes.insert(s.index);
    }
    EXPECT_EQ(indexes.size(), static_cast<size_t>(p));
    std::vector<int64_t> values;
    for (const auto& [v, index] : out.values()) {
      values.push_back(v);
      EXPECT_LT(index, p);
    }
    EXPECT_EQ(Sorted(values), Range(0, 999));
  }
}

using KeyCount = std::pair<std::string, int64_t>;

// Counts records per key in keyed ValueState.
class CountPerKey : public eddy::RichFlatMapFunction<std::string, KeyCount> {
 public:
  void flatMap(const std::string& key, eddy::Collector<KeyCount>& out) override {
    eddy::ValueState<int64_t>& count =
        getRuntimeContext().getState(eddy::ValueStateDescriptor<int64_t>("n"));
    const int64_t n = count.value().value_or(0) + 1;
    count.update(n);
    out.collect({key, n});
  }
};

std::string KeyOf(int64_t i) { return Cat("key-", i * i % 53); }

TEST(DataStreamTest, KeyedValueStateCountsPerKey) {
  std::map<std::string, int64_t> expected;
  for (int64_t i = 0; i < 3000; ++i) expected[KeyOf(i)]++;
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<KeyCount> out;
    env.fromSequence(0, 2999)
        .map([](const int64_t& i) { return KeyOf(i); })
        .keyBy([](const std::string& k) { return k; })
        .flatMap(CountPerKey())
        .addSink(out.Sink());
    env.execute("keyed state");
    // One subtask owns each key, so its counts arrive as 1, 2, ..., n.
    std::map<std::string, int64_t> final_counts;
    for (const auto& [key, records] : GroupByKey(out.values(), [](const KeyCount& kc) { return kc.first; })) {
      for (size_t i = 0; i < records.size(); ++i) {
        ASSERT_EQ(records[i].second, static_cast<int64_t>(i + 1)) << "key " << key;
      }
      final_counts[key] = static_cast<int64_t>(records.size());
    }
    EXPECT_EQ(final_counts, expected);
  }
}

TEST(DataStreamTest, KeyedStateOnNonKeyedStreamFailsTheJob) {
  eddy::StreamExecutionEnvironment env;
  Results<KeyCount> out;
  env.fromSequence(0, 10)
      .map([](const int64_t& i) { return std::to_string(i); })
      .flatMap(CountPerKey())
      .addSink(out.Sink());
  EXPECT_THAT(ExecuteError(env), HasSubstr("keyed stream"));
}

// ---- union / connect ----

TEST(DataStreamTest, UnionOfThreeStreams) {
  const std::vector<int64_t> first = {7, 7, -3, 1000000, 0};
  std::vector<int64_t> expected = first;
  for (int64_t v = 100; v <= 399; ++v) expected.push_back(v);
  for (int64_t v = 1000; v <= 1099; ++v) expected.push_back(-v);
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<int64_t> out;
    auto a = env.fromCollection(first);
    auto b = env.fromSequence(100, 399);
    auto c = env.fromSequence(1000, 1099).map([](const int64_t& v) { return -v; });
    a.union_(b, c).addSink(out.Sink());
    env.execute("union");
    EXPECT_EQ(out.sorted(), Sorted(expected));
  }
}

class SplitOrRepeat : public eddy::CoFlatMapFunction<int64_t, std::string, std::string> {
 public:
  // v % 3 copies of "i<v>".
  void flatMap1(const int64_t& v, eddy::Collector<std::string>& out) override {
    for (int64_t k = 0; k < v % 3; ++k) out.collect(Cat("i", v));
  }
  // The comma-separated parts of s.
  void flatMap2(const std::string& s, eddy::Collector<std::string>& out) override {
    size_t start = 0;
    while (true) {
      size_t end = s.find(',', start);
      out.collect(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
};

TEST(DataStreamTest, ConnectWithCoMapAndCoFlatMap) {
  const std::vector<std::string> strings = {"a,b", "", "c", "dd,ee,ff", ",x"};
  std::vector<std::string> expected_map, expected_flat;
  for (int64_t v = 0; v <= 199; ++v) {
    expected_map.push_back(Cat("n", v * 2));
    for (int64_t k = 0; k < v % 3; ++k) expected_flat.push_back(Cat("i", v));
  }
  for (const std::string& s : strings) expected_map.push_back(Cat("s", s.size()));
  for (const char* part : {"a", "b", "", "c", "dd", "ee", "ff", "", "x"}) expected_flat.push_back(part);

  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<std::string> mapped, flat;
    auto numbers = env.fromSequence(0, 199);
    auto texts = env.fromCollection(strings);
    numbers.connect(texts)
        .map([](const int64_t& v) { return Cat("n", v * 2); },
             [](const std::string& s) { return Cat("s", s.size()); })
        .addSink(mapped.Sink());
    numbers.connect(texts).flatMap(SplitOrRepeat()).addSink(flat.Sink());
    env.execute("connect");
    EXPECT_EQ(mapped.sorted(), Sorted(expected_map));
    EXPECT_EQ(flat.sorted(), Sorted(expected_flat));
  }
}

// ---- process() and side outputs ----

class EvenOdd : public eddy::ProcessFunction<int64_t, int64_t> {
 public:
  explicit EvenOdd(eddy::OutputTag<std::string> odd) : odd_(std::move(odd)) {}
  void processElement(const int64_t& v, Context& ctx, eddy::Collector<int64_t>& out) override {
    if (v % 2 == 0) {
      out.collect(v);
    } else {
      ctx.output(odd_, Cat("odd", v));
    }
  }

 private:
  eddy::OutputTag<std::string> odd_;
};

TEST(DataStreamTest, ProcessFunctionSplitsWithSideOutputs) {
  std::vector<int64_t> expected_even;
  std::vector<std::string> expected_odd;
  std::vector<int64_t> expected_odd_values;
  for (int64_t v = -101; v <= 300; ++v) {
    if (v % 2 == 0) {
      expected_even.push_back(v);
    } else {
      expected_odd.push_back(Cat("odd", v));
      expected_odd_values.push_back(v);
    }
  }
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    const eddy::OutputTag<std::string> odd_tag("odd");
    const eddy::OutputTag<int64_t> odd_value_tag("odd-value");
    Results<int64_t> even, even2, odd_values;
    Results<std::string> odd, odd_again;
    auto numbers = env.fromSequence(-101, 300);
    // A class-based ProcessFunction; side output consumed in the same chain.
    auto split = numbers.process(EvenOdd(odd_tag));
    split.addSink(even.Sink());
    split.getSideOutput(odd_tag).addSink(odd.Sink());
    split.getSideOutput(odd_tag).addSink(odd_again.Sink());  // a side output read twice
    // A lambda; side output consumed at another parallelism (over the network).
    auto split2 = numbers.process(
        [odd_value_tag](const int64_t& v, eddy::ProcessFunction<int64_t, int64_t>::Context& ctx,
                        eddy::Collector<int64_t>& out) {
          if (v % 2 == 0) {
            out.collect(v);
          } else {
            ctx.output(odd_value_tag, v);
          }
        });
    split2.addSink(even2.Sink());
    split2.getSideOutput(odd_value_tag).addSink(odd_values.Sink()).setParallelism(p == 1 ? 2 : 1);
    env.execute("side outputs");
    EXPECT_EQ(even.sorted(), expected_even);
    EXPECT_EQ(odd.sorted(), Sorted(expected_odd));
    EXPECT_EQ(odd_again.sorted(), Sorted(expected_odd));
    EXPECT_EQ(even2.sorted(), expected_even);
    EXPECT_EQ(odd_values.sorted(), expected_odd_values);
  }
}

// ---- Record types ----

struct Order {
  int64_t id = 0;
  std::vector<std::string> items;
  std::optional<double> discount;
  std::map<std::string, int32_t> counts;
  bool operator==(const Order&) const = default;
  bool operator<(const Order& o) const { return id < o.id; }
};
EDDY_FIELDS(Order, id, items, discount, counts);

// Record i: container sizes go up and down between consecutive records, so a
// deserializer that reuses its target must reset every field.
Order MakeOrder(int64_t i) {
  Order o;
  o.id = i;
  for (int64_t k = 0; k < (i * 7) % 5; ++k) o.items.push_back(Cat("item", i * 10 + k));
  if (i % 2 == 0) o.discount = static_cast<double>(i) / 4;
  for (int64_t k = 0; k < (i * 3) % 4; ++k) o.counts[Cat("c", k)] = static_cast<int32_t>(i + k);
  return o;
}

TEST(DataStreamTest, ComplexRecordTypesCrossTheNetworkIntact) {
  std::vector<Order> expected;
  for (int64_t i = 0; i < 500; ++i) expected.push_back(MakeOrder(i));
  using Nested = std::tuple<int64_t, std::vector<std::pair<std::string, int64_t>>, std::optional<std::string>>;
  auto make_nested = [](int64_t i) {
    Nested n{i, {}, std::nullopt};
    for (int64_t k = 0; k < i % 4; ++k) std::get<1>(n).push_back({std::string(static_cast<size_t>(k), 'x'), -k});
    if (i % 3 == 0) std::get<2>(n) = Cat("opt", i);
    return n;
  };
  std::vector<Nested> expected_nested;
  for (int64_t i = 0; i < 500; ++i) expected_nested.push_back(make_nested(i));
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<Order> orders;
    Results<Nested> nested;
    auto ids = env.fromSequence(0, 499);
    ids.map([](const int64_t& i) { return MakeOrder(i); }).rebalance().addSink(orders.Sink());
    ids.map(make_nested).keyBy([](const Nested& n) { return std::get<0>(n) % 7; }).addSink(nested.Sink());
    env.execute("record types");
    EXPECT_TRUE(orders.sorted() == expected) << "orders differ";
    EXPECT_EQ(nested.sorted(), expected_nested);
  }
}

// ---- Partitioners ----

using Tagged = std::pair<int64_t, int32_t>;  // value, subtask that saw it

std::vector<int64_t> ValuesOf(const std::vector<Tagged>& tagged) {
  std::vector<int64_t> v;
  for (const Tagged& t : tagged) v.push_back(t.first);
  std::sort(v.begin(), v.end());
  return v;
}
std::map<int32_t, std::vector<int64_t>> BySubtask(const std::vector<Tagged>& tagged) {
  std::map<int32_t, std::vector<int64_t>> m;
  for (const Tagged& t : tagged) m[t.second].push_back(t.first);
  for (auto& [s, v] : m) std::sort(v.begin(), v.end());
  return m;
}

TEST(DataStreamTest, RebalanceDistributesRoundRobin) {
  const int64_t n = 1000;
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<Tagged> out;
    // One producer: round robin gives every subtask n/p records, +-1.
    env.fromCollection(Range(0, n - 1)).rebalance().map(TagSubtask<int64_t>()).addSink(out.Sink());
    env.execute("rebalance");
    EXPECT_EQ(ValuesOf(out.values()), Range(0, n - 1));
    auto by_subtask = BySubtask(out.values());
    EXPECT_EQ(by_subtask.size(), static_cast<size_t>(p));
    for (const auto& [subtask, values] : by_subtask) {
      EXPECT_GE(values.size(), static_cast<size_t>(n / p)) << "subtask " << subtask;
      EXPECT_LE(values.size(), static_cast<size_t>((n + p - 1) / p)) << "subtask " << subtask;
    }
  }
}

TEST(DataStreamTest, RescaleStaysWithinLocalGroups) {
  const int64_t n = 1000;
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<Tagged> out;
    // p producers, 2p consumers: producer i feeds consumers 2i and 2i+1 only.
    env.fromSequence(0, n - 1)
        .rescale()
        .map(TagSubtask<int64_t>())
        .setParallelism(2 * p)
        .addSink(out.Sink());
    env.execute("rescale");
    EXPECT_EQ(ValuesOf(out.values()), Range(0, n - 1));
    for (const auto& [v, subtask] : out.values()) {
      ASSERT_EQ(subtask / 2, SequenceProducer(0, n - 1, p, v)) << "value " << v << " at subtask " << subtask;
    }
    auto by_subtask = BySubtask(out.values());
    EXPECT_EQ(by_subtask.size(), static_cast<size_t>(2 * p));
    for (const auto& [subtask, values] : by_subtask) {
      // Round robin over the producer's two consumers.
      const int producer = subtask / 2;
      const int64_t produced = n * (producer + 1) / p - n * producer / p;
      EXPECT_GE(static_cast<int64_t>(values.size()), produced / 2) << "subtask " << subtask;
      EXPECT_LE(static_cast<int64_t>(values.size()), (produced + 1) / 2) << "subtask " << subtask;
    }
  }
}

TEST(DataStreamTest, ShuffleKeepsEveryRecord) {
  const int64_t n = 2000;
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<Tagged> out;
    env.fromSequence(0, n - 1).shuffle().map(TagSubtask<int64_t>()).addSink(out.Sink());
    env.execute("shuffle");
    EXPECT_EQ(ValuesOf(out.values()), Range(0, n - 1));
    // Uniformly random channels: a subtask left empty has probability < 4 * 0.75^2000.
    EXPECT_EQ(BySubtask(out.values()).size(), static_cast<size_t>(p));
  }
}

TEST(DataStreamTest, BroadcastSendsEveryRecordToEverySubtask) {
  const std::vector<int64_t> input = {5, -1, 5, 42, 0, 17, 99999};
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<Tagged> out;
    env.fromSequence(0, 299).broadcast().map(TagSubtask<int64_t>()).addSink(out.Sink());
    Results<Tagged> small;
    env.fromCollection(input).broadcast().map(TagSubtask<int64_t>()).addSink(small.Sink());
    env.execute("broadcast");
    EXPECT_EQ(out.values().size(), static_cast<size_t>(300 * p));
    auto by_subtask = BySubtask(out.values());
    ASSERT_EQ(by_subtask.size(), static_cast<size_t>(p));
    for (const auto& [subtask, values] : by_subtask) EXPECT_EQ(values, Range(0, 299)) << subtask;
    auto small_by_subtask = BySubtask(small.values());
    ASSERT_EQ(small_by_subtask.size(), static_cast<size_t>(p));
    for (const auto& [subtask, values] : small_by_subtask) EXPECT_EQ(values, Sorted(input)) << subtask;
  }
}

TEST(DataStreamTest, GlobalSendsEverythingToTheFirstSubtask) {
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<Tagged> out;
    env.fromSequence(0, 999).global().map(TagSubtask<int64_t>()).addSink(out.Sink());
    env.execute("global");
    EXPECT_EQ(ValuesOf(out.values()), Range(0, 999));
    for (const auto& [v, subtask] : out.values()) ASSERT_EQ(subtask, 0) << "value " << v;
  }
}

TEST(DataStreamTest, ForwardKeepsRecordsInTheirProducersSubtask) {
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<Tagged> out;
    env.fromSequence(0, 999).forward().map(TagSubtask<int64_t>()).addSink(out.Sink());
    env.execute("forward");
    EXPECT_EQ(ValuesOf(out.values()), Range(0, 999));
    for (const auto& [v, subtask] : out.values()) {
      ASSERT_EQ(subtask, SequenceProducer(0, 999, p, v)) << "value " << v;
    }
  }
}

struct SinkSeen {
  int64_t value;
  int32_t map_subtask;
  int sink_subtask;
  int sink_parallelism;
};

class RecordingSink : public eddy::RichSinkFunction<Tagged> {
 public:
  explicit RecordingSink(Results<SinkSeen>* out) : out_(out) {}
  void invoke(const Tagged& t) override {
    out_->Add({t.first, t.second, getRuntimeContext().getIndexOfThisSubtask(),
               getRuntimeContext().getNumberOfParallelSubtasks()});
  }

 private:
  Results<SinkSeen>* out_;
};

TEST(DataStreamTest, PerOperatorParallelism) {
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("default parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<SinkSeen> out;
    env.fromCollection(Range(1, 600))  // parallelism 1
        .map(TagSubtask<int64_t>())
        .setParallelism(3)
        .addSink(RecordingSink(&out))
        .setParallelism(2);
    env.execute("per-operator parallelism");
    std::vector<int64_t> values;
    std::set<int> map_subtasks, sink_subtasks;
    for (const SinkSeen& s : out.values()) {
      values.push_back(s.value);
      map_subtasks.insert(s.map_subtask);
      sink_subtasks.insert(s.sink_subtask);
      EXPECT_EQ(s.sink_parallelism, 2);
    }
    EXPECT_EQ(Sorted(values), Range(1, 600));
    EXPECT_EQ(map_subtasks, (std::set<int>{0, 1, 2}));
    EXPECT_EQ(sink_subtasks, (std::set<int>{0, 1}));
  }
}

// ---- Sources ----

TEST(DataStreamTest, FromSequenceSplitsContiguousRanges) {
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<Tagged> out;
    Results<int64_t> single, empty;
    env.fromSequence(-50, 1000).map(TagSubtask<int64_t>()).addSink(out.Sink());
    env.fromSequence(7, 7).addSink(single.Sink());
    env.fromSequence(5, 4).addSink(empty.Sink());
    env.execute("fromSequence");
    EXPECT_EQ(ValuesOf(out.values()), Range(-50, 1000));
    // The map is chained to the source: each subtask's values are one range.
    auto by_subtask = BySubtask(out.values());
    EXPECT_EQ(by_subtask.size(), static_cast<size_t>(p));
    for (const auto& [subtask, values] : by_subtask) {
      ASSERT_FALSE(values.empty());
      EXPECT_EQ(values.back() - values.front() + 1, static_cast<int64_t>(values.size())) << subtask;
    }
    EXPECT_EQ(single.values(), std::vector<int64_t>{7});
    EXPECT_TRUE(empty.values().empty());
  }
}

TEST(DataStreamTest, DataGeneratorSourceWithCountAndRateLimit) {
  std::vector<std::string> expected;
  for (int i = 0; i < 200; ++i) expected.push_back(Cat("rec-", i));
  std::vector<int64_t> expected_squares;
  for (int64_t i = 0; i < 1000; ++i) expected_squares.push_back(i * i);
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    {
      eddy::StreamExecutionEnvironment env;
      env.setParallelism(p);
      Results<std::string> out;
      env.addSource(eddy::DataGeneratorSource<std::string>(
                        [](int64_t i) { return Cat("rec-", i); }, 200,
                        eddy::RateLimiterStrategy::perSecond(1000)),
                    "Generator")
          .addSink(out.Sink());
      const auto start = std::chrono::steady_clock::now();
      env.execute("rate-limited generator");
      const auto elapsed = std::chrono::steady_clock::now() - start;
      EXPECT_EQ(out.sorted(), Sorted(expected));
      // 200 records at 1000/s: the last one is due after ~199 ms.
      EXPECT_GE(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), 150);
    }
    {
      eddy::StreamExecutionEnvironment env;
      env.setParallelism(p);
      Results<int64_t> out;
      env.addSource(eddy::DataGeneratorSource<int64_t>([](int64_t i) { return i * i; }, 1000))
          .addSink(out.Sink());
      env.execute("generator");
      EXPECT_EQ(out.sorted(), expected_squares);
    }
  }
}

// ---- Failures ----

TEST(DataStreamTest, ThrowingUserFunctionFailsExecute) {
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<int64_t> out;
    env.fromSequence(0, 100000)
        .map([](const int64_t& v) -> int64_t {
          if (v == 4242) throw std::runtime_error("boom");
          return v;
        })
        .addSink(out.Sink());
    EXPECT_THAT(ExecuteError(env), HasSubstr("boom"));
  }
}

TEST(DataStreamTest, NonParallelSourceRejectsParallelism) {
  eddy::StreamExecutionEnvironment env;
  EXPECT_THROW(env.fromElements(1, 2, 3).setParallelism(2), std::invalid_argument);
  EXPECT_NO_THROW(env.fromElements(1, 2, 3).setParallelism(1));
}

TEST(DataStreamTest, ForwardBetweenDifferentParallelismsFailsExecute) {
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(2);
  Results<int64_t> out;
  env.fromSequence(0, 10).forward().map([](const int64_t& v) { return v; }).setParallelism(3).addSink(out.Sink());
  EXPECT_THAT(ExecuteError(env), HasSubstr("forward partitioning"));
}

TEST(DataStreamTest, FailureBehindANetworkEdgeEndsTheJob) {
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    {
      // The source is far from done (and may be blocked on full buffers) when
      // a downstream subtask fails: the job must still end, with the cause.
      eddy::StreamExecutionEnvironment env;
      env.setParallelism(p);
      Results<int64_t> out;
      env.fromSequence(0, 2'000'000'000)
          .rebalance()
          .map([](const int64_t& v) -> int64_t {
            if (v == 30000) throw std::runtime_error("downstream boom");
            return v;
          })
          .addSink(out.Sink());
      EXPECT_THAT(ExecuteError(env), HasSubstr("downstream boom"));
    }
    {
      // A sink behind keyBy fails.
      eddy::StreamExecutionEnvironment env;
      env.setParallelism(p);
      env.fromSequence(0, 100000)
          .keyBy([](const int64_t& v) { return v % 17; })
          .sum(0)
          .addSink([](const int64_t& v) {
            if (v > 5000) throw std::runtime_error("sink boom");
          });
      EXPECT_THAT(ExecuteError(env), HasSubstr("sink boom"));
    }
  }
}

class FailingSource : public eddy::SourceFunction<int64_t> {
 public:
  void run(SourceContext& ctx) override {
    for (int64_t i = 0; i < 100; ++i) ctx.collect(i);
    throw std::runtime_error("source boom");
  }
};

class FailingOpen : public eddy::RichMapFunction<int64_t, int64_t> {
 public:
  void open(eddy::RuntimeContext&) override { throw std::runtime_error("open boom"); }
  int64_t map(const int64_t& v) override { return v; }
};

TEST(DataStreamTest, FailuresInSourcesAndOpenFailTheJob) {
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    {
      eddy::StreamExecutionEnvironment env;
      env.setParallelism(p);
      Results<int64_t> out;
      env.addSource(FailingSource()).rebalance().addSink(out.Sink());
      EXPECT_THAT(ExecuteError(env), HasSubstr("source boom"));
    }
    {
      eddy::StreamExecutionEnvironment env;
      env.setParallelism(p);
      Results<int64_t> out;
      env.fromSequence(0, 100).rebalance().map(FailingOpen()).addSink(out.Sink());
      EXPECT_THAT(ExecuteError(env), HasSubstr("open boom"));
    }
  }
}

// Buffers what it receives and hands it over only in finish(): a bounded
// job must call finish() on every sink subtask, after its last record.
class BufferingSink : public eddy::RichSinkFunction<int64_t> {
 public:
  BufferingSink(Results<int64_t>* out, std::atomic<int>* finished, std::atomic<int>* closed)
      : out_(out), finished_(finished), closed_(closed) {}
  void invoke(const int64_t& v) override {
    if (was_finished_) throw std::logic_error("invoke after finish");
    buffer_.push_back(v);
  }
  void finish() override {
    was_finished_ = true;
    for (int64_t v : buffer_) out_->Add(v);
    buffer_.clear();
    ++*finished_;
  }
  void close() override { ++*closed_; }

 private:
  Results<int64_t>* out_;
  std::atomic<int>* finished_;
  std::atomic<int>* closed_;
  std::vector<int64_t> buffer_;
  bool was_finished_ = false;
};

TEST(DataStreamTest, SinkFinishAndCloseAreCalledOncePerSubtask) {
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<int64_t> out;
    std::atomic<int> finished{0}, closed{0};
    env.fromSequence(0, 4999).rebalance().addSink(BufferingSink(&out, &finished, &closed));
    env.execute("finish");
    EXPECT_EQ(out.sorted(), Range(0, 4999));
    EXPECT_EQ(finished.load(), p);
    EXPECT_EQ(closed.load(), p);
  }
}

class TimestampedSource : public eddy::SourceFunction<int64_t> {
 public:
  void run(SourceContext& ctx) override {
    for (int64_t i = 0; i < 2000; ++i) {
      if (i % 3 == 0) {
        ctx.collect(i);  // no timestamp
      } else {
        ctx.collectWithTimestamp(i, 1'000'000 + i * 10);
      }
    }
  }
};

TEST(DataStreamTest, RecordTimestampsTravelThroughChainsAndTheNetwork) {
  using Stamped = std::pair<int64_t, int64_t>;  // value, timestamp or -1
  std::vector<Stamped> expected;
  for (int64_t i = 0; i < 2000; ++i) expected.push_back({i * 2, i % 3 == 0 ? -1 : 1'000'000 + i * 10});
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    Results<Stamped> out;
    env.addSource(TimestampedSource(), "stamped")
        .map([](const int64_t& v) { return v * 2; })  // chained: keeps the timestamp
        .rebalance()
        .process([](const int64_t& v, eddy::ProcessFunction<int64_t, Stamped>::Context& ctx,
                    eddy::Collector<Stamped>& c) { c.collect({v, ctx.timestamp().value_or(-1)}); })
        .addSink(out.Sink());
    env.execute("timestamps");
    EXPECT_EQ(out.sorted(), expected);
  }
}

TEST(DataStreamTest, BufferTimeoutDoesNotChangeResults) {
  std::map<int64_t, int64_t> expected;  // key → final sum
  for (int64_t v = 0; v < 20000; ++v) expected[v % 101] += v;
  for (int64_t timeout : {int64_t{0}, int64_t{-1}, int64_t{5}}) {
    for (int p : Parallelisms()) {
      SCOPED_TRACE(Cat("buffer timeout ", timeout) + Cat(", parallelism ", p));
      eddy::StreamExecutionEnvironment env;
      env.setParallelism(p);
      env.setBufferTimeout(timeout);
      using KV = std::pair<int64_t, int64_t>;
      Results<KV> out;
      env.fromSequence(0, 19999)
          .map([](const int64_t& v) { return KV{v % 101, v}; })
          .keyBy([](const KV& kv) { return kv.first; })
          .sum(1)
          .addSink(out.Sink());
      env.execute("buffer timeout");
      std::map<int64_t, int64_t> final_sum;
      for (const KV& kv : out.values()) final_sum[kv.first] = std::max(final_sum[kv.first], kv.second);
      EXPECT_EQ(final_sum, expected);
      EXPECT_EQ(out.values().size(), 20000u);
    }
  }
}

// Records the first value each subtask sees, waits until all `parallelism`
// subtasks have one (or 2 s passed), then stops the job by throwing: for
// sources too large to run to the end.
class FirstPerSubtask : public eddy::RichMapFunction<int64_t, int64_t> {
 public:
  FirstPerSubtask(Results<Tagged>* firsts, int parallelism) : firsts_(firsts), parallelism_(parallelism) {}
  int64_t map(const int64_t& v) override {
    firsts_->Add({v, getRuntimeContext().getIndexOfThisSubtask()});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (firsts_->values().size() < static_cast<size_t>(parallelism_) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    throw std::runtime_error("enough");
  }

 private:
  Results<Tagged>* firsts_;
  int parallelism_;
};

TEST(DataStreamTest, HugeSequencesAndGeneratorsSplitAcrossAllSubtasks) {
  // fromSequence(1, Long.MAX_VALUE) and DataGeneratorSource(gen, Long.MAX_VALUE)
  // are the usual "practically unbounded" sources in Flink programs.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  for (int p : {1, 2, 3, 4}) {
    SCOPED_TRACE(Cat("parallelism ", p));
    // Subtask i starts at its share: from + n*i/p (in exact arithmetic).
    std::map<int32_t, int64_t> expected_sequence, expected_generator;
    for (int i = 0; i < p; ++i) {
      const unsigned __int128 n = static_cast<unsigned __int128>(kMax);  // [1, kMax] and [0, kMax)
      expected_sequence[i] = 1 + static_cast<int64_t>(n * static_cast<unsigned>(i) / static_cast<unsigned>(p));
      expected_generator[i] = static_cast<int64_t>(n * static_cast<unsigned>(i) / static_cast<unsigned>(p));
    }
    auto firsts_of = [](Results<Tagged>& r) {
      std::map<int32_t, int64_t> m;
      for (const auto& [v, subtask] : r.values()) m[subtask] = v;
      return m;
    };
    {
      eddy::StreamExecutionEnvironment env;
      env.setParallelism(p);
      Results<Tagged> firsts;
      env.fromSequence(1, kMax).map(FirstPerSubtask(&firsts, p)).addSink([](const int64_t&) {});
      EXPECT_THAT(ExecuteError(env), HasSubstr("enough"));
      EXPECT_EQ(firsts_of(firsts), expected_sequence) << "fromSequence(1, INT64_MAX)";
    }
    {
      eddy::StreamExecutionEnvironment env;
      env.setParallelism(p);
      Results<Tagged> firsts;
      env.addSource(eddy::DataGeneratorSource<int64_t>([](int64_t i) { return i; }, kMax))
          .map(FirstPerSubtask(&firsts, p))
          .addSink([](const int64_t&) {});
      EXPECT_THAT(ExecuteError(env), HasSubstr("enough"));
      EXPECT_EQ(firsts_of(firsts), expected_generator) << "DataGeneratorSource(gen, INT64_MAX)";
    }
  }
  // The extremes of the int64 range.
  eddy::StreamExecutionEnvironment env;
  env.setParallelism(3);
  Results<int64_t> top, bottom;
  env.fromSequence(kMax - 4, kMax).addSink(top.Sink());
  env.fromSequence(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::min() + 4)
      .addSink(bottom.Sink());
  env.execute("extremes");
  std::vector<int64_t> expected_top, expected_bottom;
  for (int64_t k = 4; k >= 0; --k) expected_top.push_back(kMax - k);
  for (int64_t k = 0; k <= 4; ++k) expected_bottom.push_back(std::numeric_limits<int64_t>::min() + k);
  EXPECT_EQ(top.sorted(), expected_top);
  EXPECT_EQ(bottom.sorted(), expected_bottom);
}

// ---- Built-in sinks and configuration ----

std::vector<std::string> ReadLines(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(DataStreamTest, PrintAndFileSinksWriteOneLinePerRecord) {
  using KV = std::pair<std::string, int64_t>;
  std::vector<KV> input;
  std::vector<std::string> expected;
  for (int64_t i = 0; i < 300; ++i) {
    input.push_back({Cat("w", i % 13), i});
    expected.push_back("(" + input.back().first + "," + std::to_string(i) + ")");  // Flink's Tuple2
  }
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    const std::filesystem::path dir =
        std::filesystem::path(::testing::TempDir()) / Cat("eddy_file_sink_", p * 1000 + ::getpid() % 1000);
    std::filesystem::remove_all(dir);
    eddy::StreamExecutionEnvironment env;
    env.setParallelism(p);
    auto records = env.fromCollection(input);
    records.print();
    records.sinkTo(eddy::FileSink::forRowFormat(dir.string()));
    ::testing::internal::CaptureStdout();
    env.execute("sinks");
    const std::string printed = ::testing::internal::GetCapturedStdout();

    // print(): "k> " prefixes (k = subtask + 1) when parallel; log lines start with '['.
    std::vector<std::string> lines;
    std::set<int> prefixes;
    std::istringstream stream(printed);
    for (std::string line; std::getline(stream, line);) {
      if (line.empty() || line[0] == '[') continue;
      if (p > 1) {
        const size_t gt = line.find("> ");
        ASSERT_NE(gt, std::string::npos) << line;
        const int k = std::stoi(line.substr(0, gt));
        EXPECT_GE(k, 1);
        EXPECT_LE(k, p);
        prefixes.insert(k);
        line = line.substr(gt + 2);
      }
      lines.push_back(line);
    }
    EXPECT_EQ(Sorted(lines), Sorted(expected));

    // FileSink: part-<subtask>-0 per subtask.
    std::vector<std::string> file_lines;
    int parts = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      ++parts;
      EXPECT_THAT(entry.path().filename().string(), ::testing::StartsWith("part-"));
      for (const std::string& line : ReadLines(entry.path())) file_lines.push_back(line);
    }
    EXPECT_EQ(parts, p);
    EXPECT_EQ(Sorted(file_lines), Sorted(expected));
    std::filesystem::remove_all(dir);
  }
}

TEST(DataStreamTest, TooFewNetworkBuffersFailWithTheSettingsName) {
  eddy::StreamExecutionEnvironment env(std::map<std::string, std::string>{{"taskmanager.memory.network.buffers", "10"}});
  env.setParallelism(3);
  Results<int64_t> out;
  env.fromSequence(0, 100).rebalance().addSink(out.Sink());
  EXPECT_THAT(ExecuteError(env), HasSubstr("taskmanager.memory.network.buffers"));
}

TEST(DataStreamTest, SmallNetworkSegmentsGiveTheSameResults) {
  // 1 KiB segments: most records below span several buffers.
  std::vector<std::pair<std::string, std::string>> input;
  for (int64_t i = 0; i < 3000; ++i) {
    input.push_back({Cat("k", i % 29), std::string(static_cast<size_t>((i * 37) % 2500), static_cast<char>('a' + i % 26))});
  }
  for (int p : Parallelisms()) {
    SCOPED_TRACE(Cat("parallelism ", p));
    eddy::StreamExecutionEnvironment env(std::map<std::string, std::string>{{"taskmanager.memory.segment-size", "1 kb"}});
    env.setParallelism(p);
    using KS = std::pair<std::string, std::string>;
    Results<std::pair<std::string, int64_t>> out;
    // Per key, a fingerprint of the records' sizes in arrival order: the
    // source is a single producer, so the order within a key is fixed.
    env.fromCollection(input)
        .keyBy([](const KS& r) { return r.first; })
        .map([](const KS& r) { return std::pair<std::string, int64_t>{r.first, static_cast<int64_t>(r.second.size())}; })
        .addSink(out.Sink());
    env.execute("small segments");
    std::map<std::string, std::vector<int64_t>> got, want;
    for (const auto& [k, n] : out.values()) got[k].push_back(n);
    for (const auto& [k, v] : input) want[k].push_back(static_cast<int64_t>(v.size()));
    EXPECT_EQ(got, want);
  }
}

// ---- A larger keyed job: records span network buffers ----

uint64_t Mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

using BigRecord = std::tuple<int32_t, int64_t, std::string>;  // key, seq, payload
constexpr int64_t kBigCount = 200000;
constexpr int kBigKeys = 1000;

// Record `seq` of the big job: every 8th has a payload of 0..3000 random bytes,
// a few have 70000, the rest up to 15.
BigRecord MakeBigRecord(int64_t seq) {
  const uint64_t h = Mix(static_cast<uint64_t>(seq));
  size_t length = h % 16;
  if (seq % 8 == 0) length = h % 3001;
  if (seq % 20011 == 5) length = 70000;
  std::string payload(length, '\0');
  uint64_t state = h;
  for (size_t i = 0; i < length; ++i) {
    if (i % 8 == 0) state = Mix(state);
    payload[i] = static_cast<char>(state >> (8 * (i % 8)));
  }
  return {static_cast<int32_t>(Mix(static_cast<uint64_t>(seq) * 7 + 3) % kBigKeys), seq, std::move(payload)};
}

// The subtask of a DataGeneratorSource(count) at parallelism p that generates
// index `seq` (subtask i generates [count*i/p, count*(i+1)/p)).
int GeneratorProducer(int64_t count, int p, int64_t seq) {
  for (int i = 0; i < p; ++i) {
    if (seq < count * (i + 1) / p) return i;
  }
  return -1;
}

using BigDigest = std::tuple<int32_t, int64_t, uint64_t, int64_t>;  // key, seq, hash, length

TEST(DataStreamTest, LargeKeyedJobWithRecordsSpanningBuffers) {
  const int p = 4;
  std::vector<BigDigest> expected;
  std::map<int32_t, std::tuple<int64_t, int64_t, uint64_t>> expected_summary;  // count, bytes, hashes
  int64_t total_bytes = 0;
  size_t longest = 0;
  for (int64_t seq = 0; seq < kBigCount; ++seq) {
    const BigRecord r = MakeBigRecord(seq);
    const std::string& payload = std::get<2>(r);
    const uint64_t hash = Fnv1a(payload);
    total_bytes += static_cast<int64_t>(payload.size());
    longest = std::max(longest, payload.size());
    expected.emplace_back(std::get<0>(r), seq, hash, static_cast<int64_t>(payload.size()));
    auto& [count, bytes, hashes] = expected_summary[std::get<0>(r)];
    ++count;
    bytes += static_cast<int64_t>(payload.size());
    hashes += hash;
  }
  // The input is what the test means it to be: ~40 MB, some records > 32 KiB.
  ASSERT_GT(total_bytes, 30'000'000);
  ASSERT_GT(longest, size_t{32 * 1024});
  ASSERT_EQ(expected_summary.size(), static_cast<size_t>(kBigKeys));

  eddy::StreamExecutionEnvironment env;
  env.setParallelism(p);
  Results<BigDigest> digests;
  std::mutex summary_mu;
  std::map<int32_t, Summary> last_summary;  // the latest (largest count) per key
  auto records = env.addSource(eddy::DataGeneratorSource<BigRecord>(MakeBigRecord, kBigCount), "Big");
  // Whole records cross the network, keyed.
  records.keyBy([](const BigRecord& r) { return std::get<0>(r); })
      .map([](const BigRecord& r) {
        const std::string& payload = std::get<2>(r);
        return BigDigest{std::get<0>(r), std::get<1>(r), Fnv1a(payload), static_cast<int64_t>(payload.size())};
      })
      .addSink(digests.Sink());
  // A rolling keyed reduce of per-record summaries.
  records
      .map([](const BigRecord& r) {
        return Summary{std::get<0>(r), 1, static_cast<int64_t>(std::get<2>(r).size()), Fnv1a(std::get<2>(r))};
      })
      .keyBy([](const Summary& s) { return s.key; })
      .reduce([](const Summary& a, const Summary& b) {
        return Summary{a.key, a.count + b.count, a.bytes + b.bytes, a.hash_sum + b.hash_sum};
      })
      .addSink([&summary_mu, &last_summary](const Summary& s) {
        std::lock_guard<std::mutex> lock(summary_mu);
        Summary& last = last_summary[s.key];
        if (s.count > last.count) last = s;
      });
  env.execute("large keyed job");

  const std::vector<BigDigest> got = digests.values();
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_TRUE(Sorted(got) == Sorted(expected)) << "the multiset of received records differs";
  // Within a key, the records of one producer arrive in the order produced.
  std::map<std::pair<int32_t, int>, int64_t> last_seq;
  for (const BigDigest& d : got) {
    const int64_t seq = std::get<1>(d);
    const int producer = GeneratorProducer(kBigCount, p, seq);
    auto [it, first] = last_seq.emplace(std::make_pair(std::get<0>(d), producer), seq);
    if (!first) {
      ASSERT_LT(it->second, seq) << "key " << std::get<0>(d) << " producer " << producer;
      it->second = seq;
    }
  }
  ASSERT_EQ(last_summary.size(), expected_summary.size());
  for (const auto& [key, summary] : last_summary) {
    const auto& [count, bytes, hashes] = expected_summary.at(key);
    EXPECT_EQ(summary.key, key);
    EXPECT_EQ(summary.count, count) << "key " << key;
    EXPECT_EQ(summary.bytes, bytes) << "key " << key;
    EXPECT_EQ(summary.hash_sum, hashes) << "key " << key;
  }
}

}  // namespace
}  // namespace eddy_datastream_test

TEST(ParameterToolTest, NegativeNumbersAreValuesAndFlagsAreTrue) {
  const eddy::ParameterTool args =
      eddy::ParameterTool::fromArgs({"--events", "-3", "--scale", "-1.5e3", "--verbose", "-n", "7", "--last"});
  EXPECT_EQ(args.getLong("events", 0), -3);
  EXPECT_EQ(args.get("scale"), "-1.5e3");
  EXPECT_EQ(args.get("verbose"), "true");
  EXPECT_EQ(args.getLong("n", 0), 7);
  EXPECT_EQ(args.get("last"), "true");
  EXPECT_THROW(eddy::ParameterTool::fromArgs({"-5"}), std::invalid_argument);
}
