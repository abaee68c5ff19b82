// Configuration: the flat key/value view of conf/config.yaml plus `-D`
// overrides, with typed getters that understand Flink's value syntax
// ("100 ms", "32 kb"). Values stay strings until read so that unknown keys
// (for connectors, user code) pass through untouched, and a malformed value
// is reported when it is read, naming the key, the value and the expected
// form.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/config_options.h"

namespace eddy {

// Parses a duration in Flink's syntax: a non-negative integer, optional
// whitespace and an optional case-insensitive unit: ns/nano(s)/nanosecond(s),
// µs/micro(s)/microsecond(s), ms/milli(s)/millisecond(s), s/sec(s)/second(s),
// m/min/minute(s), h/hour(s), d/day(s). No unit means milliseconds.
// Sub-millisecond parts are truncated. InvalidArgument when malformed or when
// the result does not fit in 64-bit milliseconds.
absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text);

// Parses a memory size in Flink's syntax: a non-negative integer, optional
// whitespace and an optional case-insensitive unit: b/bytes, k/kb/kibibytes,
// m/mb/mebibytes, g/gb/gibibytes, t/tb/tebibytes (powers of 1024). No unit
// means bytes. InvalidArgument when malformed or when it overflows 64 bits.
absl::StatusOr<uint64_t> ParseMemorySize(std::string_view text);

class Configuration {
 public:
  Configuration() = default;

  // Reads a YAML file. NotFound if `path` does not exist; InvalidArgument,
  // naming the file and line, if it is not valid YAML or not a map.
  static absl::StatusOr<Configuration> LoadYamlFile(const std::string& path);

  // Parses YAML text; `origin` names its source in error messages. Nested
  // maps become dotted keys, dotted keys may be written flat, and both forms
  // may be mixed. Scalars are kept as their text, lists are joined with ','
  // (Flink's form for e.g. host lists), null values become "". A key
  // defined twice (e.g. once nested, once flat) is an error. An empty
  // document is an empty configuration.
  static absl::StatusOr<Configuration> ParseYaml(std::string_view text,
                                                 std::string_view origin);

  // Applies one `-D key=value` argument (split at the first '=', whitespace
  // around key and value trimmed). InvalidArgument if there is no '=' or the
  // key is empty.
  absl::Status ApplyOverride(std::string_view key_equals_value);

  // Sets `key` to `value`, replacing any earlier value.
  void Set(std::string key, std::string value);
  // Whether `key` has a value (possibly empty).
  bool Contains(std::string_view key) const;
  // The value of `key` exactly as written, if present.
  std::optional<std::string> GetRaw(std::string_view key) const;
  // All entries, sorted by key.
  const std::map<std::string, std::string>& entries() const { return entries_; }
  // Copies every entry of `other` into this configuration; `other` wins on
  // conflicts (so: defaults.MergeFrom(file); merged.MergeFrom(overrides)).
  void MergeFrom(const Configuration& other);

  // Typed getters. Each returns `default_value` when the key is absent or its
  // value is empty/whitespace (so `key:` in YAML or `-D key=` restores the
  // default), and InvalidArgument naming key, value and expected form when
  // the value is malformed. Surrounding whitespace is ignored.

  // The value as written, untrimmed; empty values are returned as is.
  absl::StatusOr<std::string> GetString(std::string_view key,
                                        std::string_view default_value) const;
  // A signed 64-bit decimal integer.
  absl::StatusOr<int64_t> GetInt(std::string_view key,
                                 int64_t default_value) const;
  // "true" or "false", case-insensitive.
  absl::StatusOr<bool> GetBool(std::string_view key, bool default_value) const;
  // A finite floating-point number.
  absl::StatusOr<double> GetDouble(std::string_view key,
                                   double default_value) const;
  // A duration, see ParseDuration.
  absl::StatusOr<std::chrono::milliseconds> GetDuration(
      std::string_view key, std::chrono::milliseconds default_value) const;
  // A memory size in bytes, see ParseMemorySize.
  absl::StatusOr<uint64_t> GetMemorySize(std::string_view key,
                                         uint64_t default_value) const;
  // One of `allowed`, matched case-insensitively and returned in the spelling
  // of `allowed` (so callers can compare against their constants).
  absl::StatusOr<std::string> GetEnum(
      std::string_view key, std::string_view default_value,
      std::initializer_list<std::string_view> allowed) const;
  // A duration that may be unset: nullopt when absent or empty (used for
  // options whose empty default means "disabled", such as
  // execution.checkpointing.interval).
  absl::StatusOr<std::optional<std::chrono::milliseconds>> GetOptionalDuration(
      std::string_view key) const;

  // The same getters for a well-known option, taking its default from
  // config_options.h. An option whose default is empty has no typed default:
  // reading it while unset with a typed getter is a FailedPrecondition (a bug
  // in the caller; use GetRaw or GetOptionalDuration for those).
  absl::StatusOr<std::string> GetString(const ConfigOption& option) const;
  absl::StatusOr<int64_t> GetInt(const ConfigOption& option) const;
  absl::StatusOr<bool> GetBool(const ConfigOption& option) const;
  absl::StatusOr<double> GetDouble(const ConfigOption& option) const;
  absl::StatusOr<std::chrono::milliseconds> GetDuration(
      const ConfigOption& option) const;
  absl::StatusOr<uint64_t> GetMemorySize(const ConfigOption& option) const;
  absl::StatusOr<std::string> GetEnum(
      const ConfigOption& option,
      std::initializer_list<std::string_view> allowed) const;

 private:
  // The trimmed value of `key` for typed getters, or nullopt when absent or
  // blank.
  std::optional<std::string_view> TypedValue(std::string_view key) const;
  // The trimmed value to parse for `option`: the configured one, else the
  // default; FailedPrecondition when both are blank.
  absl::StatusOr<std::string_view> OptionValue(
      const ConfigOption& option) const;

  std::map<std::string, std::string> entries_;
};

}  // namespace eddy
