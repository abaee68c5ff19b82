// The rocksdb state backend's files and byte layout, and the backend factory's
// configuration handling. (State semantics on both backends: api/state_test.cc.)
#include "taskmanager/rocksdb_backend.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "eddy/key_hash.h"
#include "eddy/serializer.h"
#include "eddy/state.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eddy::runtime {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace fs = std::filesystem;

class RocksDbBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "eddy-rocksdb-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }

  std::map<std::string, std::string> Config(const std::string& localdir) {
    return {{"state.backend.type", "rocksdb"}, {"state.backend.rocksdb.localdir", localdir}};
  }
  static std::vector<std::string> Entries(const fs::path& dir) {
    std::vector<std::string> names;
    if (!fs::exists(dir)) return names;
    for (const auto& entry : fs::directory_iterator(dir)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

  fs::path root_;
};

TEST_F(RocksDbBackendTest, FilesLiveUnderLocaldirUntilDispose) {
  const fs::path localdir = root_ / "local" / "dirs";  // Created on demand.
  auto backend = CreateKeyedStateBackend(Config(localdir.string()), KeyGroupRange{0, 127}, 128,
                                         "Map -> Filter_3");
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_EQ((*backend)->type(), "rocksdb");
  std::vector<std::string> instances = Entries(localdir);
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_THAT(instances[0], StartsWith("eddy-rocksdb-Map_-__Filter_3-"));
  const fs::path instance = localdir / instances[0];
  EXPECT_EQ((*backend)->kv_store()->directory(), instance.string());
  EXPECT_TRUE(fs::exists(instance / "CURRENT"));

  auto& value = internal::GetValueState(**backend, ValueStateDescriptor<int64_t>("v"));
  (*backend)->SetCurrentKey(SerializeToString(int64_t{1}), 5);
  value.update(1);

  ASSERT_TRUE((*backend)->Dispose().ok());
  EXPECT_FALSE(fs::exists(instance));
  EXPECT_TRUE(Entries(localdir).empty());
}

TEST_F(RocksDbBackendTest, DestructionAlsoRemovesTheFiles) {
  {
    auto backend = CreateKeyedStateBackend(Config(root_.string()), KeyGroupRange{0, 7}, 8, "op");
    ASSERT_TRUE(backend.ok()) << backend.status();
    EXPECT_EQ(Entries(root_).size(), 1u);
  }
  EXPECT_TRUE(Entries(root_).empty());
}

TEST_F(RocksDbBackendTest, EachInstanceGetsItsOwnDirectory) {
  auto first = CreateKeyedStateBackend(Config(root_.string()), KeyGroupRange{0, 3}, 8, "op");
  auto second = CreateKeyedStateBackend(Config(root_.string()), KeyGroupRange{4, 7}, 8, "op");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE((*first)->kv_store()->directory(), (*second)->kv_store()->directory());
  EXPECT_EQ(Entries(root_).size(), 2u);
  ASSERT_TRUE((*first)->Dispose().ok());
  EXPECT_EQ(Entries(root_).size(), 1u);
}

TEST_F(RocksDbBackendTest, CommaSeparatedLocaldirs) {
  const fs::path a = root_ / "a", b = root_ / "b";
  auto config = Config(a.string() + " , " + b.string());
  auto backend = CreateKeyedStateBackend(config, KeyGroupRange{0, 7}, 8, "op");
  ASSERT_TRUE(backend.ok()) << backend.status();
  const fs::path parent = fs::path((*backend)->kv_store()->directory()).parent_path();
  EXPECT_TRUE(parent == a || parent == b) << parent;
}

TEST_F(RocksDbBackendTest, UnusableLocaldirIsAnError) {
  const fs::path file = root_ / "file";
  std::ofstream(file) << "x";
  auto backend =
      CreateKeyedStateBackend(Config((file / "sub").string()), KeyGroupRange{0, 7}, 8, "op");
  ASSERT_FALSE(backend.ok());
  EXPECT_THAT(backend.status().message(),
              HasSubstr("cannot create state.backend.rocksdb.localdir"));
}

TEST_F(RocksDbBackendTest, StoreKeyLayout) {
  auto backend =
      CreateKeyedStateBackend(Config(root_.string()), KeyGroupRange{0, 1023}, 1024, "op");
  ASSERT_TRUE(backend.ok()) << backend.status();
  internal::KeyedStateBackend& b = **backend;
  auto& value = internal::GetValueState(b, ValueStateDescriptor<int64_t>("v"));
  auto& map = internal::GetMapState(b, MapStateDescriptor<std::string, int64_t>("m"));
  // Key 5 (zigzag varint 0x0a) in key group 0x0102, void namespace (length 0).
  b.SetCurrentKey(SerializeToString(int64_t{5}), 0x0102);
  value.update(42);
  int64_t* in_place = value.mutableValue();
  ASSERT_NE(in_place, nullptr);
  *in_place = -2;  // zigzag 3
  ASSERT_TRUE(b.Flush().ok());
  // Namespace "W" (length 1), user key "a" (length 1).
  b.SetCurrentNamespace("W");
  map.put("a", 7);  // zigzag 14

  internal::KvStore& store = *b.kv_store();
  auto v_column = store.OpenColumn("v");
  auto m_column = store.OpenColumn("m");
  ASSERT_TRUE(v_column.ok() && m_column.ok());
  std::string bytes;
  auto found = store.Get(*v_column, std::string("\x01\x02\x0a\x00", 4), &bytes);
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(*found);
  EXPECT_EQ(bytes, "\x03");
  found = store.Get(*m_column,
                    std::string("\x01\x02\x0a\x01W\x01"
                                "a",
                                7),
                    &bytes);
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(*found);
  EXPECT_EQ(bytes, "\x0e");
}

TEST(CreateKeyedStateBackendTest, ChoosesByType) {
  auto unset = CreateKeyedStateBackend({}, KeyGroupRange{0, 7}, 8, "op");
  ASSERT_TRUE(unset.ok());
  EXPECT_EQ((*unset)->type(), "hashmap");
  EXPECT_EQ((*unset)->kv_store(), nullptr);
  auto hashmap =
      CreateKeyedStateBackend({{"state.backend.type", "HashMap"}}, KeyGroupRange{0, 7}, 8, "op");
  ASSERT_TRUE(hashmap.ok());
  EXPECT_EQ((*hashmap)->type(), "hashmap");

  auto unknown =
      CreateKeyedStateBackend({{"state.backend.type", "foo"}}, KeyGroupRange{0, 7}, 8, "op");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(unknown.status().message(),
            "unknown state.backend.type 'foo': expected hashmap or rocksdb");
}

}  // namespace
}  // namespace eddy::runtime

namespace eddy::runtime {
namespace {

// Incremental checkpoints: the store's files, then an import of a key-group
// range into another instance (a restore with another parallelism).
TEST(RocksDbIncrementalTest, CheckpointFilesImportTheirKeyGroups) {
  const fs::path root = fs::temp_directory_path() / ("eddy-rocksdb-incr-" + std::to_string(::getpid()));
  fs::remove_all(root);
  std::map<std::string, std::string> config{{"state.backend.type", "rocksdb"},
                                            {"state.backend.rocksdb.localdir", root.string()}};
  constexpr int kMaxParallelism = 16;
  auto source = CreateKeyedStateBackend(config, KeyGroupRange{0, 15}, kMaxParallelism, "src");
  ASSERT_TRUE(source.ok()) << source.status();
  auto& value = internal::GetValueState(**source, ValueStateDescriptor<int64_t>("v"));
  std::map<int64_t, int64_t> expected_low;  // keys whose key group is in [0, 7]
  for (int64_t k = 0; k < 500; ++k) {
    const int kg = static_cast<int>(k % kMaxParallelism);  // any assignment works for the store
    (*source)->SetCurrentKey(SerializeToString(k), kg);
    value.update(k * 3);
    if (kg <= 7) expected_low[k] = k * 3;
  }
  ASSERT_TRUE((*source)->Flush().ok());
  const std::string dir = (root / "chk").string();
  auto files = (*source)->kv_store()->CreateCheckpoint(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_TRUE(std::any_of(files->begin(), files->end(), [](const std::string& f) { return f.ends_with(".sst"); }));
  // Changes after the checkpoint are not in it.
  (*source)->SetCurrentKey(SerializeToString(int64_t{0}), 0);
  value.update(-1);

  auto target = CreateKeyedStateBackend(config, KeyGroupRange{0, 7}, kMaxParallelism, "dst");
  ASSERT_TRUE(target.ok()) << target.status();
  ASSERT_TRUE((*target)->kv_store()->ImportKeyGroups(dir, 0, 7).ok());
  auto& restored = internal::GetValueState(**target, ValueStateDescriptor<int64_t>("v"));
  int found = 0;
  for (int64_t k = 0; k < 500; ++k) {
    const int kg = static_cast<int>(k % kMaxParallelism);
    if (kg > 7) continue;
    (*target)->SetCurrentKey(SerializeToString(k), kg);
    ASSERT_EQ(restored.value(), std::optional<int64_t>(expected_low[k])) << "key " << k;
    ++found;
  }
  EXPECT_EQ(found, static_cast<int>(expected_low.size()));
  // Key groups outside the range were not imported.
  int outside = 0;
  auto column = (*target)->kv_store()->OpenColumn("v");
  ASSERT_TRUE((*target)->kv_store()->Scan(*column, "", [&](std::string_view key, std::string_view) {
    if (static_cast<uint8_t>(key[1]) > 7) ++outside;
    return true;
  }).ok());
  EXPECT_EQ(outside, 0);
  source->reset();
  target->reset();
  fs::remove_all(root);
}

}  // namespace
}  // namespace eddy::runtime

namespace eddy::runtime {
namespace {

// The write-back cache in front of RocksDB (KvCell), at sizes that evict all
// the time, now and then, and never: random updates, in-place changes,
// appends and clears over keys and namespaces, with flushes and
// snapshot-restores between them, must read back as a plain map of the same
// operations says, and after a flush the store must hold exactly the live
// entries (a removal that skipped its Delete would leave one behind).
class KvCacheTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "eddy-kvcache-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<internal::KeyedStateBackend> NewBackend() {
    auto backend = CreateKeyedStateBackend({{"state.backend.type", "rocksdb"},
                                            {"state.backend.rocksdb.localdir", root_.string()},
                                            {"state.backend.rocksdb.cache.entries", std::to_string(GetParam())}},
                                           KeyGroupRange{0, kKeyGroups - 1}, kKeyGroups, "op");
    EXPECT_TRUE(backend.ok()) << backend.status();
    return *std::move(backend);
  }
  // A new backend restored from a snapshot of `from`, into `*to`.
  void Restore(internal::KeyedStateBackend& from, std::unique_ptr<internal::KeyedStateBackend>* to) {
    auto snapshot = from.Snapshot();
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    *to = NewBackend();
    for (int kg = 0; kg < kKeyGroups; ++kg) {
      std::string section;
      ASSERT_TRUE((*snapshot)->AppendKeyGroup(kg, &section).ok());
      ASSERT_TRUE((*to)->RestoreKeyGroup(kg, section).ok());
    }
  }
  static constexpr int kKeyGroups = 8;
  fs::path root_;
};

TEST_P(KvCacheTest, ReadsAndTheStoreFollowAPlainMap) {
  using Entry = std::pair<int64_t, std::string>;  // (key, namespace)
  std::map<Entry, int64_t> values;
  std::map<Entry, std::vector<int64_t>> lists;
  std::unique_ptr<internal::KeyedStateBackend> backend = NewBackend();
  std::mt19937_64 random(42);
  const std::vector<std::string> namespaces = {"", "A", "window-B"};
  auto select = [&](internal::KeyedStateBackend& b, const Entry& e) {
    b.SetCurrentKey(SerializeToString(e.first), static_cast<int>(e.first % kKeyGroups));
    b.SetCurrentNamespace(e.second);
  };
  for (int step = 0; step < 20'000; ++step) {
    auto& value = internal::GetValueState(*backend, ValueStateDescriptor<int64_t>("v"));
    auto& list = internal::GetListState(*backend, ListStateDescriptor<int64_t>("l"));
    const Entry e{static_cast<int64_t>(random() % 60), namespaces[random() % namespaces.size()]};
    select(*backend, e);
    const int64_t n = static_cast<int64_t>(random() % 1000);
    switch (random() % 9) {
      case 0: value.update(n); values[e] = n; break;
      case 1:
        if (int64_t* v = value.mutableValue()) *v += n, values[e] += n;
        else EXPECT_EQ(values.count(e), 0u);
        break;
      case 2: value.clear(); values.erase(e); break;
      case 3: list.add(n); lists[e].push_back(n); break;
      case 4: list.clear(); lists.erase(e); break;
      case 5: {
        std::optional<int64_t> got = value.value();
        auto want = values.find(e);
        ASSERT_EQ(got.has_value(), want != values.end()) << "step " << step;
        if (got) {
          ASSERT_EQ(*got, want->second) << "step " << step;
        }
        auto want_list = lists.find(e);
        ASSERT_EQ(list.get(), want_list == lists.end() ? std::vector<int64_t>() : want_list->second)
            << "step " << step;
        break;
      }
      case 6: list.add(n); lists[e].push_back(n); break;
      case 7:
        if (random() % 50 == 0) {
          ASSERT_TRUE(backend->Flush().ok());
        }
        break;
      case 8:
        if (random() % 500 == 0) {  // snapshot, then continue on a restored backend
          std::unique_ptr<internal::KeyedStateBackend> restored;
          ASSERT_NO_FATAL_FAILURE(Restore(*backend, &restored));
          ASSERT_TRUE(backend->Dispose().ok());
          backend = std::move(restored);
        }
        break;
    }
  }
  // After a flush the store holds exactly the live entries, with their values.
  ASSERT_TRUE(backend->Flush().ok());
  internal::KvStore& store = *backend->kv_store();
  auto read_column = [&](const std::string& name) {
    std::map<std::string, std::string> rows;
    auto column = store.OpenColumn(name);
    EXPECT_TRUE(column.ok());
    EXPECT_TRUE(store.Scan(*column, "", [&](std::string_view k, std::string_view v) {
      rows.emplace(std::string(k), std::string(v));
      return true;
    }).ok());
    return rows;
  };
  auto store_key = [&](const Entry& e) {
    select(*backend, e);
    std::string key;
    backend->BuildStoreKey(e.second, &key);
    return key;
  };
  std::map<std::string, std::string> want_values, want_lists;
  for (const auto& [e, v] : values) want_values[store_key(e)] = SerializeToString(v);
  for (const auto& [e, l] : lists) want_lists[store_key(e)] = SerializeToString(l);
  EXPECT_EQ(read_column("v"), want_values);
  EXPECT_EQ(read_column("l"), want_lists);
  EXPECT_GT(values.size(), 20u);  // the run kept state to compare
  EXPECT_GT(lists.size(), 20u);
}

// A restored state whose only change before the next snapshot is a removal:
// the snapshot must not bring the removed value back.
TEST_P(KvCacheTest, ARemovalAloneReachesTheNextSnapshot) {
  auto at = [](internal::KeyedStateBackend& b, int64_t key) {
    b.SetCurrentKey(SerializeToString(key), static_cast<int>(key % kKeyGroups));
    return &internal::GetValueState(b, ValueStateDescriptor<int64_t>("v"));
  };
  std::unique_ptr<internal::KeyedStateBackend> first = NewBackend();
  for (int64_t key = 0; key < 10; ++key) at(*first, key)->update(key * 10);
  std::unique_ptr<internal::KeyedStateBackend> second, third;
  ASSERT_NO_FATAL_FAILURE(Restore(*first, &second));
  for (int64_t key = 0; key < 10; key += 2) at(*second, key)->clear();
  ASSERT_NO_FATAL_FAILURE(Restore(*second, &third));
  for (int64_t key = 0; key < 10; ++key) {
    std::optional<int64_t> got = at(*third, key)->value();
    if (key % 2 == 0) {
      EXPECT_FALSE(got.has_value()) << "key " << key << " was cleared before the snapshot";
    } else {
      EXPECT_EQ(got, key * 10) << "key " << key;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(CacheEntries, KvCacheTest, ::testing::Values(1, 3, 4096));

TEST(CreateKeyedStateBackendTest, CacheEntriesMustBeAPositiveNumber) {
  for (const std::string bad : {"0", "-5", "many", ""}) {
    auto backend = CreateKeyedStateBackend(
        {{"state.backend.type", "rocksdb"}, {"state.backend.rocksdb.cache.entries", bad}}, KeyGroupRange{0, 7}, 8,
        "op");
    ASSERT_FALSE(backend.ok()) << bad;
    EXPECT_EQ(backend.status().message(),
              "state.backend.rocksdb.cache.entries: '" + bad + "' is not a positive number of entries");
  }
}

}  // namespace
}  // namespace eddy::runtime
