// Tests for Configuration: YAML flattening, -D overrides, Flink's duration and
// memory-size syntax, and the error messages users see for bad values.
#include "common/config.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/config_options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eddy {
namespace {

using ::testing::HasSubstr;

// Debian's absl::string_view is not std::string_view and gtest prints it as a
// char array; matching on std::string keeps failure messages readable.
std::string Msg(const absl::Status& status) {
  return std::string(status.message());
}
using std::chrono::milliseconds;

// Expected values are spelled out from first principles rather than taken
// from the code under test.
constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;
constexpr uint64_t kTiB = 1024 * kGiB;

Configuration ParseOrDie(std::string_view yaml) {
  absl::StatusOr<Configuration> config =
      Configuration::ParseYaml(yaml, "test.yaml");
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *std::move(config) : Configuration();
}

// Writes `contents` to a fresh file under the test's temp dir.
std::string WriteTempFile(const std::string& name,
                          const std::string& contents) {
  const std::string path = testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
  return path;
}

// --- YAML ---

TEST(ConfigYamlTest, NestedMapsBecomeDottedKeys) {
  Configuration config = ParseOrDie(R"(
jobmanager:
  rpc:
    address: jm.example.com
    port: 6123
rest:
  port: 8082
)");
  EXPECT_EQ(config.GetRaw("jobmanager.rpc.address"), "jm.example.com");
  EXPECT_EQ(config.GetRaw("jobmanager.rpc.port"), "6123");
  EXPECT_EQ(config.GetRaw("rest.port"), "8082");
  EXPECT_EQ(config.entries().size(), 3u);
  EXPECT_FALSE(config.Contains("jobmanager.rpc"));
}

TEST(ConfigYamlTest, FlatDottedKeys) {
  Configuration config = ParseOrDie(R"(
jobmanager.rpc.port: 6123
taskmanager.numberOfTaskSlots: 4
execution.buffer-timeout: 10 ms
)");
  EXPECT_EQ(config.GetRaw("jobmanager.rpc.port"), "6123");
  EXPECT_EQ(*config.GetInt("taskmanager.numberOfTaskSlots", 1), 4);
  EXPECT_EQ(*config.GetDuration("execution.buffer-timeout", milliseconds(100)),
            milliseconds(10));
}

TEST(ConfigYamlTest, MixedNestedAndFlatKeys) {
  Configuration config = ParseOrDie(R"(
jobmanager.rpc:
  address: localhost
  port: 6123
state:
  backend.type: rocksdb
  checkpoints.dir: file:///tmp/cp
parallelism.default: 2
)");
  EXPECT_EQ(config.GetRaw("jobmanager.rpc.address"), "localhost");
  EXPECT_EQ(config.GetRaw("jobmanager.rpc.port"), "6123");
  EXPECT_EQ(config.GetRaw("state.backend.type"), "rocksdb");
  EXPECT_EQ(config.GetRaw("state.checkpoints.dir"), "file:///tmp/cp");
  EXPECT_EQ(config.GetRaw("parallelism.default"), "2");
}

TEST(ConfigYamlTest, ListsAreCommaJoinedAndNullIsEmpty) {
  Configuration config = ParseOrDie(R"(
hosts: [a.example.com, b.example.com]
workers:
  - w1
  - w2
  - w3
state.savepoints.dir:
quoted: "100 ms"
)");
  EXPECT_EQ(config.GetRaw("hosts"), "a.example.com,b.example.com");
  EXPECT_EQ(config.GetRaw("workers"), "w1,w2,w3");
  EXPECT_TRUE(config.Contains("state.savepoints.dir"));
  EXPECT_EQ(config.GetRaw("state.savepoints.dir"), "");
  EXPECT_EQ(config.GetRaw("quoted"), "100 ms");
}

TEST(ConfigYamlTest, EmptyDocumentIsEmptyConfig) {
  EXPECT_TRUE(ParseOrDie("").entries().empty());
  EXPECT_TRUE(ParseOrDie("# only a comment\n").entries().empty());
}

TEST(ConfigYamlTest, SyntaxErrorNamesOriginAndLine) {
  absl::StatusOr<Configuration> config =
      Configuration::ParseYaml("a: 1\nb: 2\n  c: 3\n", "conf/config.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(config.status()), HasSubstr("conf/config.yaml"));
  EXPECT_THAT(Msg(config.status()), HasSubstr("line 3"));
}

TEST(ConfigYamlTest, DuplicateKeyIsAnError) {
  absl::StatusOr<Configuration> config =
      Configuration::ParseYaml("rest.port: 1\nrest:\n  port: 2\n", "dup.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Msg(config.status()), HasSubstr("'rest.port'"));
  EXPECT_THAT(Msg(config.status()), HasSubstr("dup.yaml"));
  // The line of the second definition.
  EXPECT_THAT(Msg(config.status()), HasSubstr("line 3"));
}

TEST(ConfigYamlTest, TopLevelMustBeAMap) {
  absl::StatusOr<Configuration> config =
      Configuration::ParseYaml("- a\n- b\n", "list.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Msg(config.status()), HasSubstr("list.yaml"));
}

TEST(ConfigYamlTest, LoadYamlFile) {
  const std::string path =
      WriteTempFile("eddy_config_test.yaml", "rest:\n  port: 9000\n");
  absl::StatusOr<Configuration> config = Configuration::LoadYamlFile(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(*config->GetInt(kRestPort), 9000);

  const std::string empty = WriteTempFile("eddy_config_empty.yaml", "");
  absl::StatusOr<Configuration> empty_config =
      Configuration::LoadYamlFile(empty);
  ASSERT_TRUE(empty_config.ok()) << empty_config.status();
  EXPECT_TRUE(empty_config->entries().empty());

  const std::string broken =
      WriteTempFile("eddy_config_broken.yaml", "a: 1\nb: [1, 2\nc: 3\n");
  absl::StatusOr<Configuration> broken_config =
      Configuration::LoadYamlFile(broken);
  ASSERT_FALSE(broken_config.ok());
  EXPECT_THAT(Msg(broken_config.status()), HasSubstr(broken));
  EXPECT_THAT(Msg(broken_config.status()), HasSubstr("line "));
}

TEST(ConfigYamlTest, MissingFileIsNotFound) {
  const std::string path = testing::TempDir() + "/no/such/config.yaml";
  absl::StatusOr<Configuration> config = Configuration::LoadYamlFile(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Msg(config.status()), HasSubstr(path));
}

// --- Entries, overrides, merging ---

TEST(ConfigOverrideTest, ApplyOverride) {
  Configuration config = ParseOrDie("rest.port: 8081\n");
  ASSERT_TRUE(config.ApplyOverride("rest.port=9999").ok());
  EXPECT_EQ(config.GetRaw("rest.port"), "9999");
  ASSERT_TRUE(config.ApplyOverride(" state.backend.type = rocksdb ").ok());
  EXPECT_EQ(config.GetRaw("state.backend.type"), "rocksdb");
  // Only the first '=' separates key from value.
  ASSERT_TRUE(config.ApplyOverride("env.java.opts=-Da=b").ok());
  EXPECT_EQ(config.GetRaw("env.java.opts"), "-Da=b");
  // An empty value is allowed and means "back to the default" for getters.
  ASSERT_TRUE(config.ApplyOverride("execution.buffer-timeout=").ok());
  EXPECT_EQ(*config.GetDuration(kBufferTimeout), milliseconds(100));
}

TEST(ConfigOverrideTest, MalformedOverride) {
  Configuration config;
  for (const char* bad : {"rest.port", "=8081", "  =x", ""}) {
    absl::Status status = config.ApplyOverride(bad);
    ASSERT_FALSE(status.ok()) << "accepted '" << bad << "'";
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Msg(status), HasSubstr(std::string("'") + bad + "'"));
    EXPECT_THAT(Msg(status), HasSubstr("key=value"));
  }
  EXPECT_TRUE(config.entries().empty());
}

TEST(ConfigOverrideTest, SetContainsMerge) {
  Configuration base;
  base.Set("a", "1");
  base.Set("b", "2");
  Configuration overrides;
  overrides.Set("b", "20");
  overrides.Set("c", "30");
  base.MergeFrom(overrides);
  EXPECT_EQ(base.GetRaw("a"), "1");
  EXPECT_EQ(base.GetRaw("b"), "20");
  EXPECT_EQ(base.GetRaw("c"), "30");
  EXPECT_TRUE(base.Contains("c"));
  EXPECT_FALSE(base.Contains("d"));
  EXPECT_EQ(base.GetRaw("d"), std::nullopt);
}

// --- Typed getters ---

TEST(ConfigGetterTest, DefaultsWhenAbsentOrEmpty) {
  Configuration config;
  config.Set("blank", "  ");
  for (std::string_view key : {"absent", "blank"}) {
    EXPECT_EQ(*config.GetInt(key, 7), 7);
    EXPECT_EQ(*config.GetBool(key, true), true);
    EXPECT_EQ(*config.GetDouble(key, 0.5), 0.5);
    EXPECT_EQ(*config.GetDuration(key, milliseconds(3)), milliseconds(3));
    EXPECT_EQ(*config.GetMemorySize(key, 11), 11u);
    EXPECT_EQ(*config.GetEnum(key, "A", {"A", "B"}), "A");
  }
  EXPECT_EQ(*config.GetString("absent", "dflt"), "dflt");
  EXPECT_EQ(*config.GetString("blank", "dflt"), "  ");
}

TEST(ConfigGetterTest, TypedValues) {
  Configuration config = ParseOrDie(R"(
int: -42
big: 9223372036854775807
yes: TRUE
no: false
ratio: 0.25
mode: at_least_once
)");
  EXPECT_EQ(*config.GetInt("int", 0), -42);
  EXPECT_EQ(*config.GetInt("big", 0), INT64_MAX);
  EXPECT_EQ(*config.GetBool("yes", false), true);
  EXPECT_EQ(*config.GetBool("no", true), false);
  EXPECT_DOUBLE_EQ(*config.GetDouble("ratio", 0), 0.25);
  EXPECT_EQ(*config.GetEnum("mode", "EXACTLY_ONCE",
                            {"EXACTLY_ONCE", "AT_LEAST_ONCE"}),
            "AT_LEAST_ONCE");
}

// Checks that reading `value` under `key` fails with a message naming both.
template <typename Getter>
void ExpectBadValue(const std::string& key, const std::string& value,
                    Getter get, std::string_view expected_form) {
  Configuration config;
  config.Set(key, value);
  absl::Status status = get(config, key);
  ASSERT_FALSE(status.ok()) << "accepted '" << value << "' for " << key;
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(status), HasSubstr("'" + key + "'"));
  EXPECT_THAT(Msg(status), HasSubstr("'" + value + "'"));
  EXPECT_THAT(Msg(status), HasSubstr(expected_form));
}

TEST(ConfigGetterTest, MalformedValuesNameKeyValueAndForm) {
  auto get_int = [](const Configuration& c, const std::string& k) {
    return c.GetInt(k, 0).status();
  };
  auto get_bool = [](const Configuration& c, const std::string& k) {
    return c.GetBool(k, false).status();
  };
  auto get_double = [](const Configuration& c, const std::string& k) {
    return c.GetDouble(k, 0).status();
  };
  auto get_duration = [](const Configuration& c, const std::string& k) {
    return c.GetDuration(k, milliseconds(0)).status();
  };
  auto get_size = [](const Configuration& c, const std::string& k) {
    return c.GetMemorySize(k, 0).status();
  };
  auto get_enum = [](const Configuration& c, const std::string& k) {
    return c.GetEnum(k, "hashmap", {"hashmap", "rocksdb"}).status();
  };

  for (const char* v : {"abc", "12x", "1.5", "99999999999999999999", "0x10"}) {
    ExpectBadValue("rest.port", v, get_int, "integer");
  }
  for (const char* v : {"yes", "1", "on", "truee"}) {
    ExpectBadValue("some.flag", v, get_bool, R"("true" or "false")");
  }
  for (const char* v : {"abc", "nan", "inf", "1.2.3"}) {
    ExpectBadValue("some.ratio", v, get_double, "number");
  }
  for (const char* v :
       {"abc", "1 fortnight", "1.5 s", "s", "1 s 2", "-1 s", "1 mins",
        "99999999999999999999", "9999999999999999 d"}) {
    ExpectBadValue("execution.buffer-timeout", v, get_duration, "duration");
  }
  for (const char* v : {"abc", "12 zb", "-1", "1.5 kb", "kb", "1 kib",
                        "99999999 tb", "99999999999999999999"}) {
    ExpectBadValue("taskmanager.memory.segment-size", v, get_size,
                   "memory size");
  }
  ExpectBadValue("state.backend.type", "filesystem", get_enum,
                 "expected one of hashmap, rocksdb");
}

TEST(ConfigGetterTest, ExactDurationMessage) {
  Configuration config;
  config.Set("execution.buffer-timeout", "abc");
  EXPECT_EQ(Msg(config.GetDuration(kBufferTimeout).status()),
            "invalid value 'abc' for key 'execution.buffer-timeout': expected "
            R"(a duration such as "100 ms", "1 s" or "2 min")");
}

// --- Durations ---

TEST(ParseDurationTest, AllForms) {
  const std::vector<std::pair<std::string, int64_t>> cases = {
      {"1000", 1000},  // plain number = milliseconds
      {"0", 0},
      {"  250  ", 250},
      {"500ms", 500},
      {"500 ms", 500},
      {"500 milli", 500},
      {"500 millis", 500},
      {"500 millisecond", 500},
      {"500 milliseconds", 500},
      {"1s", kSecond},
      {"1 s", kSecond},
      {"3 sec", 3 * kSecond},
      {"3 secs", 3 * kSecond},
      {"3 second", 3 * kSecond},
      {"3 seconds", 3 * kSecond},
      {"2min", 2 * kMinute},
      {"2 min", 2 * kMinute},
      {"2 m", 2 * kMinute},
      {"2m", 2 * kMinute},
      {"2 minute", 2 * kMinute},
      {"2 minutes", 2 * kMinute},
      {"1 h", kHour},
      {"1h", kHour},
      {"5 hour", 5 * kHour},
      {"5 hours", 5 * kHour},
      {"1 d", kDay},
      {"1d", kDay},
      {"7 day", 7 * kDay},
      {"7 days", 7 * kDay},
      {"5000000 ns", 5},
      {"5000000 nano", 5},
      {"5000000 nanos", 5},
      {"5000000 nanosecond", 5},
      {"5000000 nanoseconds", 5},
      {"3000 \xC2\xB5s", 3},  // µs
      {"3000 micro", 3},
      {"3000 micros", 3},
      {"3000 microsecond", 3},
      {"3000 microseconds", 3},
      {"1999 micros", 1},  // sub-millisecond parts are truncated
      {"1 S", kSecond},    // units are case-insensitive
      {"2 MIN", 2 * kMinute},
      {"10 Seconds", 10 * kSecond},
      {"\t1\ts ", kSecond},
      {"9223372036854775807", INT64_MAX},
      {"106751991167 d", 106751991167LL * kDay},  // the largest whole day count
  };
  for (const auto& [text, expected_ms] : cases) {
    absl::StatusOr<milliseconds> parsed = ParseDuration(text);
    ASSERT_TRUE(parsed.ok()) << "'" << text << "': " << parsed.status();
    EXPECT_EQ(parsed->count(), expected_ms) << "'" << text << "'";
  }
}

TEST(ParseDurationTest, Malformed) {
  for (const char* text :
       {"", "  ", "ms", "abc", "1 fortnight", "1.5 s", "-1 s", "+1 s", "1 s x",
        "1 mins", "1 hrs", "9223372036854775808", "106751991168 d"}) {
    absl::StatusOr<milliseconds> parsed = ParseDuration(text);
    ASSERT_FALSE(parsed.ok()) << "accepted '" << text << "'";
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Msg(parsed.status()), HasSubstr(std::string("'") + text + "'"));
    EXPECT_THAT(Msg(parsed.status()), HasSubstr("duration"));
  }
}

// --- Memory sizes ---

TEST(ParseMemorySizeTest, AllForms) {
  const std::vector<std::pair<std::string, uint64_t>> cases = {
      {"100", 100},  // plain number = bytes
      {"0", 0},
      {"100b", 100},
      {"100 b", 100},
      {"100 bytes", 100},
      {"32kb", 32 * kKiB},
      {"32 kb", 32 * kKiB},
      {"32k", 32 * kKiB},
      {"32 kibibytes", 32 * kKiB},
      {"64 mb", 64 * kMiB},
      {"64mb", 64 * kMiB},
      {"64 m", 64 * kMiB},
      {"64 mebibytes", 64 * kMiB},
      {"1g", kGiB},
      {"1 gb", kGiB},
      {"3 gibibytes", 3 * kGiB},
      {"2t", 2 * kTiB},
      {"2 tb", 2 * kTiB},
      {"2 tebibytes", 2 * kTiB},
      {"1 GB", kGiB},  // units are case-insensitive
      {"16 KB", 16 * kKiB},
      {" 8 Mb ", 8 * kMiB},
      {"16777215 tb", 16777215ULL * kTiB},  // just below 2^64
      {"18446744073709551615", UINT64_MAX},
  };
  for (const auto& [text, expected] : cases) {
    absl::StatusOr<uint64_t> parsed = ParseMemorySize(text);
    ASSERT_TRUE(parsed.ok()) << "'" << text << "': " << parsed.status();
    EXPECT_EQ(*parsed, expected) << "'" << text << "'";
  }
}

TEST(ParseMemorySizeTest, Malformed) {
  for (const char* text : {"", "kb", "abc", "12 zb", "-1", "-1 kb", "1.5 kb",
                           "1 kib", "16777216 tb", "18446744073709551616"}) {
    absl::StatusOr<uint64_t> parsed = ParseMemorySize(text);
    ASSERT_FALSE(parsed.ok()) << "accepted '" << text << "'";
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Msg(parsed.status()), HasSubstr(std::string("'") + text + "'"));
    EXPECT_THAT(Msg(parsed.status()), HasSubstr("memory size"));
  }
}

// --- Well-known options ---

TEST(ConfigOptionsTest, DefaultsParse) {
  Configuration empty;
  EXPECT_EQ(*empty.GetString(kJobManagerRpcAddress), "localhost");
  EXPECT_EQ(*empty.GetInt(kJobManagerRpcPort), 6123);
  EXPECT_EQ(*empty.GetInt(kRestPort), 8081);
  EXPECT_EQ(*empty.GetString(kRestBindAddress), "0.0.0.0");
  EXPECT_EQ(*empty.GetInt(kTaskManagerNumberOfTaskSlots), 1);
  EXPECT_EQ(*empty.GetInt(kDefaultParallelism), 1);
  EXPECT_EQ(*empty.GetInt(kMaxParallelism), 128);
  EXPECT_EQ(*empty.GetDuration(kBufferTimeout), milliseconds(100));
  EXPECT_EQ(*empty.GetInt(kNetworkBuffers), 2048);
  EXPECT_EQ(*empty.GetMemorySize(kSegmentSize), 32 * kKiB);
  EXPECT_EQ(*empty.GetEnum(kStateBackendType, {"hashmap", "rocksdb"}),
            "hashmap");
  EXPECT_EQ(*empty.GetString(kCheckpointsDir), "");
  EXPECT_EQ(
      *empty.GetEnum(kCheckpointingMode, {"EXACTLY_ONCE", "AT_LEAST_ONCE"}),
      "EXACTLY_ONCE");
  EXPECT_EQ(*empty.GetDuration(kCheckpointingTimeout),
            milliseconds(10 * kMinute));
  EXPECT_EQ(*empty.GetDuration(kCheckpointingMinPause), milliseconds(0));
  EXPECT_EQ(*empty.GetDuration(kHeartbeatInterval), milliseconds(kSecond));
  EXPECT_EQ(*empty.GetDuration(kHeartbeatTimeout), milliseconds(5 * kSecond));
  EXPECT_EQ(*empty.GetInt(kLocalNumberTaskManager), 1);
}

TEST(ConfigOptionsTest, OptionalOptions) {
  Configuration config;
  // Checkpointing is disabled unless an interval is configured.
  EXPECT_EQ(*config.GetOptionalDuration(kCheckpointingInterval.key),
            std::nullopt);
  EXPECT_EQ(config.GetDuration(kCheckpointingInterval).status().code(),
            absl::StatusCode::kFailedPrecondition);
  config.Set(std::string(kCheckpointingInterval.key), "30 s");
  EXPECT_EQ(*config.GetOptionalDuration(kCheckpointingInterval.key),
            milliseconds(30 * kSecond));
  EXPECT_EQ(*config.GetDuration(kCheckpointingInterval),
            milliseconds(30 * kSecond));
  config.Set(std::string(kCheckpointingInterval.key), "soon");
  EXPECT_THAT(
      Msg(config.GetOptionalDuration(kCheckpointingInterval.key).status()),
      HasSubstr("'execution.checkpointing.interval'"));
}

TEST(ConfigOptionsTest, KeysAreUniqueAndFindable) {
  std::set<std::string_view> keys;
  for (const ConfigOption& option : AllConfigOptions()) {
    EXPECT_TRUE(keys.insert(option.key).second) << option.key;
    EXPECT_FALSE(option.description.empty()) << option.key;
    EXPECT_EQ(FindConfigOption(option.key), &option);
  }
  EXPECT_EQ(FindConfigOption("no.such.key"), nullptr);
  EXPECT_GE(keys.size(), 25u);
}

}  // namespace
}  // namespace eddy
