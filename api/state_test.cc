// Keyed state semantics, run identically against both state backends
// (hashmap and rocksdb): each state type against hand-computed expectations,
// isolation by key, namespace, key group and state name, merging namespaces,
// TTL with a fake clock (both update types, both visibilities), errors outside
// a keyed context, and a randomized comparison with a plain std::map model.
#include "eddy/state.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "eddy/functions.h"
#include "eddy/key_hash.h"
#include "eddy/serializer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "taskmanager/rocksdb_backend.h"

namespace eddy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::Pair;

using internal::KeyedStateBackend;

constexpr int kMaxParallelism = 16;
constexpr auto kTtl = std::chrono::milliseconds(100);

// A window-like namespace: the serialized [start, end) of a time window.
std::string Window(int64_t start, int64_t end) {
  return SerializeToString(std::pair<int64_t, int64_t>(start, end));
}

int64_t Sum(const int64_t& a, const int64_t& b) { return a + b; }

// Average of int64 values: accumulator (sum, count).
class Average : public AggregateFunction<int64_t, std::pair<int64_t, int64_t>, double> {
 public:
  std::pair<int64_t, int64_t> createAccumulator() override { return {0, 0}; }
  std::pair<int64_t, int64_t> add(const int64_t& value, std::pair<int64_t, int64_t> acc) override {
    return {acc.first + value, acc.second + 1};
  }
  double getResult(const std::pair<int64_t, int64_t>& acc) override {
    return static_cast<double>(acc.first) / static_cast<double>(acc.second);
  }
  std::pair<int64_t, int64_t> merge(std::pair<int64_t, int64_t> a,
                                    std::pair<int64_t, int64_t> b) override {
    return {a.first + b.first, a.second + b.second};
  }
};

// Concatenation: associative, not commutative, so merge order is visible.
class Concat : public AggregateFunction<std::string, std::string, std::string> {
 public:
  std::string createAccumulator() override { return ""; }
  std::string add(const std::string& value, std::string acc) override { return acc + value; }
  std::string getResult(const std::string& acc) override { return acc; }
  std::string merge(std::string a, std::string b) override { return a + b; }
};

class MaxFunction : public ReduceFunction<int64_t> {
 public:
  int64_t reduce(const int64_t& a, const int64_t& b) override { return std::max(a, b); }
};

StateTtlConfig Ttl(StateTtlConfig::UpdateType update, StateTtlConfig::StateVisibility visibility) {
  return StateTtlConfig::newBuilder(kTtl)
      .setUpdateType(update)
      .setStateVisibility(visibility)
      .build();
}
constexpr auto kOnCreateAndWrite = StateTtlConfig::UpdateType::OnCreateAndWrite;
constexpr auto kOnReadAndWrite = StateTtlConfig::UpdateType::OnReadAndWrite;
constexpr auto kNeverReturnExpired = StateTtlConfig::StateVisibility::NeverReturnExpired;
constexpr auto kReturnExpired = StateTtlConfig::StateVisibility::ReturnExpiredIfNotCleanedUp;

class StateTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "eddy-state-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    localdir_ = pattern;
    backend_ = MakeBackend(KeyGroupRange{0, kMaxParallelism - 1});
  }
  void TearDown() override {
    if (backend_) {
      EXPECT_TRUE(backend_->Dispose().ok());
    }
    std::filesystem::remove_all(localdir_);
  }

  std::unique_ptr<KeyedStateBackend> MakeBackend(KeyGroupRange range) {
    auto backend = runtime::CreateKeyedStateBackend(
        {{"state.backend.type", GetParam()}, {"state.backend.rocksdb.localdir", localdir_}}, range,
        kMaxParallelism, "state_test");
    EXPECT_TRUE(backend.ok()) << backend.status();
    if (!backend.ok()) return nullptr;
    (*backend)->SetTtlTimeProvider([this] { return now_; });
    return *std::move(backend);
  }

  // Makes `key` current, in the key group keyBy would assign it to.
  void SetKey(int64_t key) {
    backend_->SetCurrentKey(SerializeToString(key),
                            AssignToKeyGroup(StableKeyHash(key), kMaxParallelism));
  }
  void SetNamespace(const std::string& name_space) { backend_->SetCurrentNamespace(name_space); }

  template <class V>
  ValueState<V>& Value(const ValueStateDescriptor<V>& d) {
    return internal::GetValueState(*backend_, d);
  }
  template <class T>
  internal::InternalListState<T>& List(const ListStateDescriptor<T>& d) {
    return internal::GetListState(*backend_, d);
  }
  template <class K, class V>
  MapState<K, V>& Map(const MapStateDescriptor<K, V>& d) {
    return internal::GetMapState(*backend_, d);
  }
  template <class T>
  internal::InternalReducingState<T>& Reducing(const ReducingStateDescriptor<T>& d) {
    return internal::GetReducingState(*backend_, d);
  }
  template <class IN, class ACC, class OUT>
  internal::InternalAggregatingState<IN, OUT>& Aggregating(
      const AggregatingStateDescriptor<IN, ACC, OUT>& d) {
    return internal::GetAggregatingState(*backend_, d);
  }

  std::string localdir_;
  std::unique_ptr<KeyedStateBackend> backend_;
  int64_t now_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Backends, StateTest, ::testing::Values("hashmap", "rocksdb"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST_P(StateTest, BackendTypeIsTheConfiguredOne) {
  EXPECT_EQ(backend_->type(), GetParam());
  EXPECT_EQ(backend_->kv_store() != nullptr, GetParam() == "rocksdb");
}

// ---- Each state type ----

TEST_P(StateTest, ValueStateUpdateReadClearWithDefault) {
  auto& plain = Value(ValueStateDescriptor<std::string>("plain"));
  auto& counted = Value(ValueStateDescriptor<int64_t>("counted", 7));
  SetKey(1);
  EXPECT_EQ(plain.value(), std::nullopt);
  EXPECT_EQ(counted.value(), 7);
  plain.update("one");
  counted.update(10);
  EXPECT_EQ(plain.value(), "one");
  EXPECT_EQ(counted.value(), 10);
  counted.update(11);
  EXPECT_EQ(counted.value(), 11);

  SetKey(2);
  EXPECT_EQ(plain.value(), std::nullopt);
  EXPECT_EQ(counted.value(), 7);
  counted.update(20);

  SetKey(1);
  EXPECT_EQ(counted.value(), 11);
  counted.clear();
  EXPECT_EQ(counted.value(), 7);
  EXPECT_EQ(plain.value(), "one");
  SetKey(2);
  EXPECT_EQ(counted.value(), 20);
}

TEST_P(StateTest, ValueStateMutableValueIsPartOfTheStateAcrossKeys) {
  auto& sum = Value(ValueStateDescriptor<int64_t>("sum"));
  SetKey(3);
  EXPECT_EQ(sum.mutableValue(), nullptr);
  sum.update(5);
  int64_t* value = sum.mutableValue();
  ASSERT_NE(value, nullptr);
  *value += 3;
  EXPECT_EQ(sum.value(), 8);

  // The KeyedReduceOperator pattern over interleaved keys: i goes to key i % 7.
  std::map<int64_t, int64_t> expected;
  for (int64_t i = 0; i < 1000; ++i) {
    const int64_t key = 100 + i % 7;
    SetKey(key);
    if (int64_t* current = sum.mutableValue()) {
      *current += i;
    } else {
      sum.update(i);
    }
    expected[key] += i;
  }
  ASSERT_TRUE(backend_->Flush().ok());
  for (const auto& [key, total] : expected) {
    SetKey(key);
    EXPECT_EQ(sum.value(), total) << "key " << key;
  }
  // Hand-checked: key 100 gets 0 + 7 + ... + 994 = 7 * (0 + ... + 142) = 71071.
  EXPECT_EQ(expected[100], 71071);
  SetKey(3);
  EXPECT_EQ(sum.value(), 8);
}

TEST_P(StateTest, ListStateAddAddAllUpdateClear) {
  auto& list = List(ListStateDescriptor<int64_t>("list"));
  SetKey(1);
  EXPECT_THAT(list.get(), IsEmpty());
  list.add(1);
  list.add(2);
  list.addAll({3, 4});
  EXPECT_THAT(list.get(), ElementsAre(1, 2, 3, 4));
  list.addAll({});
  EXPECT_THAT(list.get(), ElementsAre(1, 2, 3, 4));

  SetKey(2);
  EXPECT_THAT(list.get(), IsEmpty());
  list.addAll({7});
  list.add(8);
  EXPECT_THAT(list.get(), ElementsAre(7, 8));

  SetKey(1);
  list.update({9, 9});
  EXPECT_THAT(list.get(), ElementsAre(9, 9));
  list.update({});
  EXPECT_THAT(list.get(), IsEmpty());
  list.add(5);
  list.clear();
  EXPECT_THAT(list.get(), IsEmpty());
  SetKey(2);
  EXPECT_THAT(list.get(), ElementsAre(7, 8));
}

TEST_P(StateTest, MapStateOperations) {
  auto& map = Map(MapStateDescriptor<std::string, int64_t>("map"));
  SetKey(1);
  EXPECT_TRUE(map.isEmpty());
  EXPECT_THAT(map.entries(), IsEmpty());
  map.put("b", 2);
  map.put("aa", 3);
  map.put("c", 1);
  map.put("a", 1);
  EXPECT_FALSE(map.isEmpty());
  EXPECT_EQ(map.get("a"), 1);
  EXPECT_EQ(map.get("aa"), 3);
  EXPECT_EQ(map.get("zz"), std::nullopt);
  EXPECT_TRUE(map.contains("c"));
  EXPECT_FALSE(map.contains("d"));
  // Byte order of the serialized keys: a string is varint(length) | bytes,
  // so every one-letter key precedes "aa".
  EXPECT_THAT(map.entries(), ElementsAre(Pair("a", 1), Pair("b", 2), Pair("c", 1), Pair("aa", 3)));
  EXPECT_THAT(map.keys(), ElementsAre("a", "b", "c", "aa"));
  EXPECT_THAT(map.values(), ElementsAre(1, 2, 1, 3));

  map.put("b", 20);
  map.remove("c");
  map.remove("not there");
  EXPECT_THAT(map.entries(), ElementsAre(Pair("a", 1), Pair("b", 20), Pair("aa", 3)));
  map.putAll(std::map<std::string, int64_t>{{"x", 24}, {"a", 10}});
  map.putAll(std::vector<std::pair<std::string, int64_t>>{{"y", 25}});
  EXPECT_THAT(map.entries(), ElementsAre(Pair("a", 10), Pair("b", 20), Pair("x", 24), Pair("y", 25),
                                         Pair("aa", 3)));

  SetKey(2);
  EXPECT_TRUE(map.isEmpty());
  map.put("a", 100);

  SetKey(1);
  // Entries are a snapshot: removing while walking them is fine.
  for (const auto& [key, value] : map.entries()) {
    if (value % 2 == 0) map.remove(key);
  }
  EXPECT_THAT(map.entries(), ElementsAre(Pair("y", 25), Pair("aa", 3)));
  map.clear();
  EXPECT_TRUE(map.isEmpty());
  EXPECT_EQ(map.get("y"), std::nullopt);
  map.put("z", 1);
  map.remove("z");
  EXPECT_TRUE(map.isEmpty());

  SetKey(2);
  EXPECT_THAT(map.entries(), ElementsAre(Pair("a", 100)));
}

TEST_P(StateTest, ReducingState) {
  auto& sum = Reducing(ReducingStateDescriptor<int64_t>("sum", Sum));
  auto& max = Reducing(ReducingStateDescriptor<int64_t>("max", MaxFunction()));
  SetKey(1);
  EXPECT_EQ(sum.get(), std::nullopt);
  for (int64_t v : {3, 4, -2}) {
    sum.add(v);
    max.add(v);
  }
  EXPECT_EQ(sum.get(), 5);
  EXPECT_EQ(max.get(), 4);
  SetKey(2);
  EXPECT_EQ(sum.get(), std::nullopt);
  sum.add(10);
  SetKey(1);
  sum.clear();
  EXPECT_EQ(sum.get(), std::nullopt);
  EXPECT_EQ(max.get(), 4);
  SetKey(2);
  EXPECT_EQ(sum.get(), 10);
}

TEST_P(StateTest, AggregatingState) {
  auto& average =
      Aggregating(AggregatingStateDescriptor<int64_t, std::pair<int64_t, int64_t>, double>(
          "average", Average()));
  auto& concat = Aggregating(AggregatingStateDescriptor<std::string, std::string, std::string>(
      "concat", std::make_shared<Concat>()));
  SetKey(1);
  EXPECT_EQ(average.get(), std::nullopt);
  for (int64_t v : {1, 2, 6}) average.add(v);
  EXPECT_EQ(average.get(), 3.0);
  concat.add("x");
  concat.add("y");
  EXPECT_EQ(concat.get(), "xy");
  SetKey(2);
  EXPECT_EQ(average.get(), std::nullopt);
  average.add(5);
  EXPECT_EQ(average.get(), 5.0);
  SetKey(1);
  average.clear();
  EXPECT_EQ(average.get(), std::nullopt);
  EXPECT_EQ(concat.get(), "xy");
}

// ---- Isolation ----

TEST_P(StateTest, NamespacesAreIsolatedForEveryStateType) {
  auto& value = Value(ValueStateDescriptor<int64_t>("value"));
  auto& list = List(ListStateDescriptor<int64_t>("list"));
  auto& map = Map(MapStateDescriptor<std::string, int64_t>("map"));
  auto& sum = Reducing(ReducingStateDescriptor<int64_t>("sum", Sum));
  auto& average =
      Aggregating(AggregatingStateDescriptor<int64_t, std::pair<int64_t, int64_t>, double>(
          "average", Average()));
  const std::vector<std::string> namespaces = {"", Window(0, 10), Window(10, 20)};
  SetKey(1);
  for (size_t i = 0; i < namespaces.size(); ++i) {
    SetNamespace(namespaces[i]);
    const int64_t v = static_cast<int64_t>(i) + 1;
    value.update(v);
    list.add(v);
    list.add(v * 10);
    map.put("k", v);
    map.put("only-" + std::to_string(i), v);
    sum.add(v);
    sum.add(v);
    average.add(v);
  }
  for (size_t i = 0; i < namespaces.size(); ++i) {
    SetNamespace(namespaces[i]);
    const int64_t v = static_cast<int64_t>(i) + 1;
    EXPECT_EQ(value.value(), v);
    EXPECT_THAT(list.get(), ElementsAre(v, v * 10));
    EXPECT_THAT(map.entries(), ElementsAre(Pair("k", v), Pair("only-" + std::to_string(i), v)));
    EXPECT_EQ(sum.get(), 2 * v);
    EXPECT_EQ(average.get(), static_cast<double>(v));
  }
  // Clearing is per (key, namespace).
  SetNamespace(namespaces[1]);
  value.clear();
  map.clear();
  list.clear();
  EXPECT_EQ(value.value(), std::nullopt);
  EXPECT_TRUE(map.isEmpty());
  SetNamespace(namespaces[0]);
  EXPECT_EQ(value.value(), 1);
  EXPECT_THAT(map.keys(), ElementsAre("k", "only-0"));
  SetNamespace(namespaces[2]);
  EXPECT_THAT(list.get(), ElementsAre(3, 30));
  // Other keys see nothing in any namespace.
  SetKey(2);
  for (const std::string& name_space : namespaces) {
    SetNamespace(name_space);
    EXPECT_EQ(value.value(), std::nullopt);
    EXPECT_THAT(list.get(), IsEmpty());
    EXPECT_TRUE(map.isEmpty());
    EXPECT_EQ(sum.get(), std::nullopt);
  }
}

TEST_P(StateTest, NamespaceStaysCurrentAcrossKeys) {
  auto& value = Value(ValueStateDescriptor<int64_t>("value"));
  SetNamespace(Window(0, 5));
  SetKey(1);
  value.update(5);
  SetKey(2);
  value.update(6);
  SetNamespace("");
  EXPECT_EQ(value.value(), std::nullopt);
  SetKey(1);
  EXPECT_EQ(value.value(), std::nullopt);
  SetNamespace(Window(0, 5));
  EXPECT_EQ(value.value(), 5);
  SetKey(2);
  EXPECT_EQ(value.value(), 6);
}

TEST_P(StateTest, StatesWithDifferentNamesAreIndependent) {
  auto& a = Value(ValueStateDescriptor<int64_t>("a"));
  auto& b = Value(ValueStateDescriptor<int64_t>("b"));
  auto& m1 = Map(MapStateDescriptor<int64_t, int64_t>("m1"));
  auto& m2 = Map(MapStateDescriptor<int64_t, int64_t>("m2"));
  SetKey(1);
  a.update(1);
  m1.put(1, 1);
  EXPECT_EQ(b.value(), std::nullopt);
  EXPECT_TRUE(m2.isEmpty());
  // The same descriptor name returns the same state.
  EXPECT_EQ(&Value(ValueStateDescriptor<int64_t>("a")), &a);
}

TEST_P(StateTest, KeyGroupsAreIsolated) {
  auto& value = Value(ValueStateDescriptor<int64_t>("value"));
  auto& map = Map(MapStateDescriptor<int64_t, int64_t>("map"));
  const std::string key = SerializeToString(int64_t{42});
  backend_->SetCurrentKey(key, 3);
  value.update(1);
  map.put(1, 1);
  backend_->SetCurrentKey(key, 4);
  EXPECT_EQ(value.value(), std::nullopt);
  EXPECT_TRUE(map.isEmpty());
  value.update(2);
  backend_->SetCurrentKey(key, 3);
  EXPECT_EQ(value.value(), 1);
  EXPECT_THAT(map.keys(), ElementsAre(1));
}

// ---- Merging namespaces ----

TEST_P(StateTest, MergeNamespacesOfReducingState) {
  auto& concat = Reducing(ReducingStateDescriptor<std::string>(
      "concat", [](const std::string& a, const std::string& b) { return a + b; }));
  const std::string target = Window(0, 30), a = Window(0, 10), b = Window(10, 20),
                    untouched = Window(50, 60);
  const std::vector<std::string> sources = {a, b};
  for (int64_t key : {1, 2}) {
    SetKey(key);
    SetNamespace(target);
    concat.add("t");
    SetNamespace(a);
    concat.add("a");
    SetNamespace(b);
    concat.add("b");
    SetNamespace(untouched);
    concat.add("u");
  }
  SetKey(1);
  concat.mergeNamespaces(target, sources);
  SetNamespace(target);
  EXPECT_EQ(concat.get(), "tab");
  SetNamespace(a);
  EXPECT_EQ(concat.get(), std::nullopt);
  SetNamespace(b);
  EXPECT_EQ(concat.get(), std::nullopt);
  SetNamespace(untouched);
  EXPECT_EQ(concat.get(), "u");
  // Key 2 is not merged.
  SetKey(2);
  SetNamespace(target);
  EXPECT_EQ(concat.get(), "t");
  SetNamespace(a);
  EXPECT_EQ(concat.get(), "a");

  // Into an absent target; from absent sources nothing is created.
  const std::string fresh = Window(100, 200);
  concat.mergeNamespaces(fresh, std::vector<std::string>{a, Window(7, 8)});
  SetNamespace(fresh);
  EXPECT_EQ(concat.get(), "a");
  const std::string empty_target = Window(300, 400);
  concat.mergeNamespaces(empty_target, std::vector<std::string>{Window(1, 2)});
  SetNamespace(empty_target);
  EXPECT_EQ(concat.get(), std::nullopt);
}

TEST_P(StateTest, MergeNamespacesOfAggregatingState) {
  auto& average =
      Aggregating(AggregatingStateDescriptor<int64_t, std::pair<int64_t, int64_t>, double>(
          "average", Average()));
  auto& concat = Aggregating(
      AggregatingStateDescriptor<std::string, std::string, std::string>("concat", Concat()));
  const std::string target = Window(0, 30), a = Window(0, 10), b = Window(10, 20);
  SetKey(1);
  SetNamespace(target);
  average.add(1);
  average.add(2);
  concat.add("t");
  SetNamespace(a);
  average.add(3);
  concat.add("a");
  SetNamespace(b);
  average.add(10);
  concat.add("b");
  const std::vector<std::string> sources = {a, b};
  average.mergeNamespaces(target, sources);
  concat.mergeNamespaces(target, sources);
  SetNamespace(target);
  EXPECT_EQ(average.get(), 4.0);  // (1 + 2 + 3 + 10) / 4
  EXPECT_EQ(concat.get(), "tab");
  SetNamespace(a);
  EXPECT_EQ(average.get(), std::nullopt);
  EXPECT_EQ(concat.get(), std::nullopt);
}

TEST_P(StateTest, MergeNamespacesOfListState) {
  auto& list = List(ListStateDescriptor<int64_t>("list"));
  const std::string target = Window(0, 30), a = Window(0, 10), b = Window(10, 20);
  SetKey(1);
  SetNamespace(a);
  list.addAll({2, 3});
  SetNamespace(b);
  list.add(4);
  SetNamespace(target);
  list.add(1);
  list.mergeNamespaces(target, std::vector<std::string>{a, b});
  EXPECT_THAT(list.get(), ElementsAre(1, 2, 3, 4));
  SetNamespace(a);
  EXPECT_THAT(list.get(), IsEmpty());
  SetNamespace(b);
  EXPECT_THAT(list.get(), IsEmpty());
}

// ---- TTL (ttl = 100 ms; an entry written at t expires at t + 100) ----

TEST_P(StateTest, TtlValueOnCreateAndWriteNeverReturnExpired) {
  ValueStateDescriptor<int64_t> d("v");
  d.enableTimeToLive(Ttl(kOnCreateAndWrite, kNeverReturnExpired));
  auto& value = Value(d);
  SetKey(1);
  now_ = 0;
  value.update(1);
  now_ = 60;
  EXPECT_EQ(value.value(), 1);  // Reads do not extend the TTL...
  now_ = 99;
  EXPECT_EQ(value.value(), 1);
  now_ = 100;
  EXPECT_EQ(value.value(), std::nullopt);  // ...so it expires at 0 + 100.
  now_ = 150;
  value.update(2);
  now_ = 249;
  EXPECT_EQ(value.value(), 2);
  now_ = 250;
  EXPECT_EQ(value.value(), std::nullopt);
}

TEST_P(StateTest, TtlValueOnReadAndWriteNeverReturnExpired) {
  ValueStateDescriptor<int64_t> d("v", -1);
  d.enableTimeToLive(Ttl(kOnReadAndWrite, kNeverReturnExpired));
  auto& value = Value(d);
  SetKey(1);
  now_ = 0;
  value.update(1);
  now_ = 60;
  EXPECT_EQ(value.value(), 1);  // Refreshed: now expires at 160.
  now_ = 159;
  EXPECT_EQ(value.value(), 1);  // Expires at 259.
  now_ = 258;
  EXPECT_EQ(value.value(), 1);  // Expires at 358.
  now_ = 358;
  EXPECT_EQ(value.value(), -1);  // The descriptor's default.
}

TEST_P(StateTest, TtlValueReturnExpiredIfNotCleanedUp) {
  for (auto update : {kOnCreateAndWrite, kOnReadAndWrite}) {
    ValueStateDescriptor<int64_t> d(update == kOnCreateAndWrite ? "create" : "read");
    d.enableTimeToLive(Ttl(update, kReturnExpired));
    auto& value = Value(d);
    SetKey(1);
    now_ = 0;
    value.update(1);
    now_ = 50;
    EXPECT_EQ(value.value(), 1);
    // OnCreateAndWrite expires at 100, OnReadAndWrite (read at 50) at 150.
    now_ = 149;
    EXPECT_EQ(value.value(), 1);  // Expired for OnCreateAndWrite, still returned once.
    now_ = 249;
    // OnCreateAndWrite: cleaned up by the last read. OnReadAndWrite: refreshed
    // at 149, expired at 249, returned this once.
    EXPECT_EQ(value.value(),
              update == kOnCreateAndWrite ? std::nullopt : std::optional<int64_t>(1));
    EXPECT_EQ(value.value(), std::nullopt);
  }
}

TEST_P(StateTest, TtlValueMutableValueCountsAsWrite) {
  ValueStateDescriptor<int64_t> d("v");
  d.enableTimeToLive(Ttl(kOnCreateAndWrite, kReturnExpired));
  auto& value = Value(d);
  SetKey(1);
  now_ = 0;
  value.update(1);
  now_ = 50;
  int64_t* current = value.mutableValue();
  ASSERT_NE(current, nullptr);
  *current += 1;  // Written at 50: expires at 150.
  SetKey(2);      // Moves a serializing backend's cache away from key 1.
  SetKey(1);
  now_ = 149;
  EXPECT_EQ(value.value(), 2);
  now_ = 300;
  // An expired value is never modified in place, whatever the visibility.
  EXPECT_EQ(value.mutableValue(), nullptr);
  EXPECT_EQ(value.value(), std::nullopt);
}

TEST_P(StateTest, TtlListPerElement) {
  ListStateDescriptor<int64_t> never("never");
  never.enableTimeToLive(Ttl(kOnCreateAndWrite, kNeverReturnExpired));
  ListStateDescriptor<int64_t> on_read("on_read");
  on_read.enableTimeToLive(Ttl(kOnReadAndWrite, kNeverReturnExpired));
  ListStateDescriptor<int64_t> returned("returned");
  returned.enableTimeToLive(Ttl(kOnCreateAndWrite, kReturnExpired));
  auto& a = List(never);
  auto& b = List(on_read);
  auto& c = List(returned);
  SetKey(1);
  now_ = 0;
  a.add(1);
  b.add(1);
  c.add(1);
  now_ = 50;
  a.add(2);
  b.add(2);
  c.add(2);
  now_ = 90;
  EXPECT_THAT(b.get(), ElementsAre(1, 2));  // Both refreshed to 90.
  now_ = 120;
  EXPECT_THAT(a.get(), ElementsAre(2));
  EXPECT_THAT(c.get(), ElementsAre(1, 2));  // 1 expired, returned once.
  EXPECT_THAT(c.get(), ElementsAre(2));
  now_ = 150;
  EXPECT_THAT(a.get(), IsEmpty());
  a.add(3);
  EXPECT_THAT(a.get(), ElementsAre(3));
  now_ = 189;
  EXPECT_THAT(b.get(), ElementsAre(1, 2));  // Refreshed to 189.
  now_ = 289;
  EXPECT_THAT(b.get(), IsEmpty());
  // update() and addAll() stamp every element with the current time.
  now_ = 1000;
  a.update({7, 8});
  now_ = 1050;
  a.addAll({9});
  now_ = 1100;
  EXPECT_THAT(a.get(), ElementsAre(9));
}

TEST_P(StateTest, TtlMapPerEntry) {
  MapStateDescriptor<std::string, int64_t> never("never");
  never.enableTimeToLive(Ttl(kOnCreateAndWrite, kNeverReturnExpired));
  MapStateDescriptor<std::string, int64_t> on_read("on_read");
  on_read.enableTimeToLive(Ttl(kOnReadAndWrite, kNeverReturnExpired));
  MapStateDescriptor<std::string, int64_t> returned("returned");
  returned.enableTimeToLive(Ttl(kOnCreateAndWrite, kReturnExpired));
  auto& a = Map(never);
  auto& b = Map(on_read);
  auto& c = Map(returned);
  SetKey(1);
  now_ = 0;
  a.put("a", 1);
  b.put("a", 1);
  c.put("a", 1);
  now_ = 50;
  a.put("b", 2);
  c.put("b", 2);
  now_ = 80;
  EXPECT_EQ(b.get("a"), 1);  // Refreshed to 80.
  now_ = 100;
  EXPECT_EQ(a.get("a"), std::nullopt);
  EXPECT_TRUE(a.contains("b"));
  EXPECT_FALSE(a.contains("a"));
  EXPECT_THAT(a.entries(), ElementsAre(Pair("b", 2)));
  EXPECT_THAT(a.keys(), ElementsAre("b"));
  EXPECT_THAT(a.values(), ElementsAre(2));
  EXPECT_FALSE(a.isEmpty());
  EXPECT_THAT(c.entries(), ElementsAre(Pair("a", 1), Pair("b", 2)));  // "a" returned once.
  EXPECT_THAT(c.entries(), ElementsAre(Pair("b", 2)));
  now_ = 150;
  EXPECT_TRUE(a.isEmpty());
  EXPECT_EQ(c.get("b"), 2);             // Expired at 150, returned once...
  EXPECT_EQ(c.get("b"), std::nullopt);  // ...then gone.
  now_ = 179;
  EXPECT_THAT(b.entries(), ElementsAre(Pair("a", 1)));  // Refreshed to 179.
  now_ = 278;
  EXPECT_TRUE(b.contains("a"));  // Refreshed to 278.
  now_ = 378;
  EXPECT_EQ(b.get("a"), std::nullopt);
  EXPECT_TRUE(b.isEmpty());
}

TEST_P(StateTest, TtlReducingAndAggregating) {
  ReducingStateDescriptor<int64_t> sum_d("sum", Sum);
  sum_d.enableTimeToLive(Ttl(kOnCreateAndWrite, kNeverReturnExpired));
  ReducingStateDescriptor<int64_t> returned_d("returned", Sum);
  returned_d.enableTimeToLive(Ttl(kOnCreateAndWrite, kReturnExpired));
  AggregatingStateDescriptor<int64_t, std::pair<int64_t, int64_t>, double> avg_d("avg", Average());
  avg_d.enableTimeToLive(Ttl(kOnReadAndWrite, kNeverReturnExpired));
  auto& sum = Reducing(sum_d);
  auto& returned = Reducing(returned_d);
  auto& avg = Aggregating(avg_d);
  SetKey(1);
  now_ = 0;
  sum.add(1);
  returned.add(1);
  avg.add(2);
  now_ = 50;
  sum.add(2);  // The accumulator is written at 50: expires at 150.
  avg.add(4);
  now_ = 149;
  EXPECT_EQ(sum.get(), 3);
  EXPECT_EQ(avg.get(), 3.0);  // Read: refreshed to 149.
  now_ = 150;
  EXPECT_EQ(sum.get(), std::nullopt);
  EXPECT_EQ(returned.get(), 1);  // Expired at 100, returned once.
  EXPECT_EQ(returned.get(), std::nullopt);
  now_ = 248;
  EXPECT_EQ(avg.get(), 3.0);
  now_ = 348;
  EXPECT_EQ(avg.get(), std::nullopt);
  // Adding to an expired accumulator starts over, even when expired values
  // are returned until cleaned up (as Flink's TTL reduce function does).
  now_ = 400;
  sum.add(1);
  returned.add(1);
  now_ = 600;
  sum.add(7);
  returned.add(7);
  EXPECT_EQ(sum.get(), 7);
  EXPECT_EQ(returned.get(), 7);
}

TEST_P(StateTest, TtlMergeDropsExpiredSources) {
  ReducingStateDescriptor<int64_t> d("sum", Sum);
  d.enableTimeToLive(Ttl(kOnCreateAndWrite, kNeverReturnExpired));
  auto& sum = Reducing(d);
  const std::string target = Window(0, 30), a = Window(0, 10), b = Window(10, 20);
  SetKey(1);
  now_ = 0;
  SetNamespace(a);
  sum.add(1);
  now_ = 50;
  SetNamespace(b);
  sum.add(10);
  now_ = 120;  // a expired at 100, b lives until 150.
  sum.mergeNamespaces(target, std::vector<std::string>{a, b});
  SetNamespace(target);
  EXPECT_EQ(sum.get(), 10);  // Merged at 120: expires at 220.
  now_ = 219;
  EXPECT_EQ(sum.get(), 10);
  now_ = 220;
  EXPECT_EQ(sum.get(), std::nullopt);
}

TEST(StateTtlConfigTest, BuilderDefaultsAndValidation) {
  StateTtlConfig config = StateTtlConfig::newBuilder(std::chrono::seconds(2)).build();
  EXPECT_TRUE(config.isEnabled());
  EXPECT_EQ(config.getTtl(), std::chrono::milliseconds(2000));
  EXPECT_EQ(config.getUpdateType(), StateTtlConfig::UpdateType::OnCreateAndWrite);
  EXPECT_EQ(config.getStateVisibility(), StateTtlConfig::StateVisibility::NeverReturnExpired);
  EXPECT_FALSE(ValueStateDescriptor<int>("x").getTtlConfig().isEnabled());
  EXPECT_THROW(StateTtlConfig::newBuilder(std::chrono::milliseconds(0)).build(),
               std::invalid_argument);
  StateTtlConfig off = StateTtlConfig::newBuilder(std::chrono::seconds(1))
                           .setUpdateType(StateTtlConfig::UpdateType::Disabled)
                           .build();
  EXPECT_FALSE(off.isEnabled());
}

// ---- Errors ----

template <class F>
std::string LogicErrorOf(F f) {
  try {
    f();
  } catch (const std::logic_error& e) {
    return e.what();
  }
  return "(no std::logic_error)";
}

TEST_P(StateTest, AccessWithoutCurrentKeyIsAClearError) {
  auto& value = Value(ValueStateDescriptor<int64_t>("v"));
  auto& list = List(ListStateDescriptor<int64_t>("l"));
  auto& map = Map(MapStateDescriptor<int64_t, int64_t>("m"));
  auto& sum = Reducing(ReducingStateDescriptor<int64_t>("r", Sum));
  auto& average = Aggregating(
      AggregatingStateDescriptor<int64_t, std::pair<int64_t, int64_t>, double>("a", Average()));
  EXPECT_THAT(LogicErrorOf([&] { (void)value.value(); }),
              HasSubstr("keyed state 'v' was accessed without a current key"));
  EXPECT_THAT(LogicErrorOf([&] { value.update(1); }), HasSubstr("'v'"));
  EXPECT_THAT(LogicErrorOf([&] { (void)value.mutableValue(); }), HasSubstr("'v'"));
  EXPECT_THAT(LogicErrorOf([&] { list.add(1); }), HasSubstr("'l' was accessed without"));
  EXPECT_THAT(LogicErrorOf([&] { map.put(1, 1); }), HasSubstr("'m' was accessed without"));
  EXPECT_THAT(LogicErrorOf([&] { (void)map.entries(); }), HasSubstr("'m'"));
  EXPECT_THAT(LogicErrorOf([&] { sum.add(1); }), HasSubstr("'r' was accessed without"));
  EXPECT_THAT(LogicErrorOf([&] { average.add(1); }), HasSubstr("'a' was accessed without"));
}

TEST_P(StateTest, KeyGroupOutsideTheRangeIsAClearError) {
  ASSERT_TRUE(backend_->Dispose().ok());
  backend_ = MakeBackend(KeyGroupRange{4, 7});
  auto& value = Value(ValueStateDescriptor<int64_t>("v"));
  auto& map = Map(MapStateDescriptor<int64_t, int64_t>("m"));
  const std::string key = SerializeToString(int64_t{1});
  backend_->SetCurrentKey(key, 4);
  value.update(4);
  backend_->SetCurrentKey(key, 7);
  value.update(7);
  for (int key_group : {3, 8}) {
    backend_->SetCurrentKey(key, key_group);
    const std::string expected = "keyed state 'v' was accessed for key group " +
                                 std::to_string(key_group) + ", which is outside this " +
                                 GetParam() +
                                 " backend's KeyGroupRange{startKeyGroup=4, endKeyGroup=7}";
    EXPECT_EQ(LogicErrorOf([&] { (void)value.value(); }), expected);
    EXPECT_THAT(LogicErrorOf([&] { map.put(1, 1); }), HasSubstr("for key group"));
  }
  backend_->SetCurrentKey(key, 4);
  EXPECT_EQ(value.value(), 4);
}

TEST_P(StateTest, SameNameWithAnotherTypeIsAnError) {
  Value(ValueStateDescriptor<int64_t>("x"));
  EXPECT_THAT(LogicErrorOf([&] { List(ListStateDescriptor<int64_t>("x")); }),
              HasSubstr("state 'x' was registered before with another type"));
  EXPECT_THAT(LogicErrorOf([&] { Value(ValueStateDescriptor<std::string>("x")); }),
              HasSubstr("another type"));
}

TEST_P(StateTest, DisposeDropsEverything) {
  auto& value = Value(ValueStateDescriptor<int64_t>("v"));
  SetKey(1);
  value.update(1);
  ASSERT_TRUE(backend_->Dispose().ok());
  ASSERT_TRUE(backend_->Dispose().ok());  // Idempotent.
  EXPECT_THAT(LogicErrorOf([&] { Value(ValueStateDescriptor<int64_t>("v")); }),
              HasSubstr("after dispose"));
}

// ---- A randomized comparison with a std::map model ----

TEST_P(StateTest, RandomOperationsMatchAModel) {
  auto& value = Value(ValueStateDescriptor<int64_t>("value"));
  auto& list = List(ListStateDescriptor<int64_t>("list"));
  auto& map = Map(MapStateDescriptor<int64_t, std::string>("map"));
  auto& sum = Reducing(ReducingStateDescriptor<int64_t>("sum", Sum));
  using Slot = std::pair<int64_t, std::string>;  // (key, namespace)
  std::map<Slot, int64_t> values, sums;
  std::map<Slot, std::vector<int64_t>> lists;
  std::map<Slot, std::map<std::string, std::pair<int64_t, std::string>>> maps;  // by serialized key
  const std::vector<std::string> namespaces = {"", Window(0, 1), Window(1, 2)};
  std::mt19937 random(20240611);
  auto pick = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  for (int step = 0; step < 6000; ++step) {
    const int64_t key = pick(25) - 5;
    const std::string& name_space = namespaces[pick(3)];
    SetKey(key);
    SetNamespace(name_space);
    const Slot slot{key, name_space};
    const int64_t x = pick(1000) - 500;
    switch (pick(12)) {
      case 0:
        value.update(x);
        values[slot] = x;
        break;
      case 1:
        if (int64_t* v = value.mutableValue()) {
          *v += x;
          values[slot] += x;
        }
        break;
      case 2:
        value.clear();
        values.erase(slot);
        break;
      case 3:
        list.add(x);
        lists[slot].push_back(x);
        break;
      case 4:
        list.update({x, x + 1});
        lists[slot] = {x, x + 1};
        break;
      case 5:
        list.clear();
        lists.erase(slot);
        break;
      case 6: {
        const int64_t user_key = x % 17;
        map.put(user_key, std::to_string(x));
        maps[slot][SerializeToString(user_key)] = {user_key, std::to_string(x)};
        break;
      }
      case 7: {
        const int64_t user_key = x % 17;
        map.remove(user_key);
        maps[slot].erase(SerializeToString(user_key));
        break;
      }
      case 8:
        if (pick(4) == 0) {
          map.clear();
          maps.erase(slot);
        }
        break;
      case 9:
        sum.add(x);
        sums[slot] += x;
        break;
      case 10: {
        const std::string& other = namespaces[pick(3)];
        if (other != name_space) {
          sum.mergeNamespaces(name_space, std::vector<std::string>{other});
          const Slot from{key, other};
          if (sums.count(from)) {
            sums[slot] += sums[from];
            sums.erase(from);
          }
        }
        break;
      }
      default: {  // Read everything back.
        auto expected_value =
            values.count(slot) ? std::optional<int64_t>(values[slot]) : std::nullopt;
        ASSERT_EQ(value.value(), expected_value) << "step " << step;
        ASSERT_EQ(list.get(), lists.count(slot) ? lists[slot] : std::vector<int64_t>())
            << "step " << step;
        std::vector<std::pair<int64_t, std::string>> expected_entries;
        if (maps.count(slot)) {
          for (const auto& entry : maps[slot]) expected_entries.push_back(entry.second);
        }
        ASSERT_EQ(map.entries(), expected_entries) << "step " << step;
        ASSERT_EQ(map.isEmpty(), expected_entries.empty());
        auto expected_sum = sums.count(slot) ? std::optional<int64_t>(sums[slot]) : std::nullopt;
        ASSERT_EQ(sum.get(), expected_sum) << "step " << step;
      }
    }
  }
}

}  // namespace
}  // namespace eddy
