// Configuration: YAML loading (yaml-cpp), -D overrides and the parsers for
// Flink's value syntax (durations, memory sizes).
#include "common/config.h"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/config_options.h"
#include "eddy/status.h"
#include "yaml-cpp/yaml.h"

namespace eddy {
namespace {

// Debian's Abseil is built with its own absl::string_view, distinct from
// std::string_view (ABSL_OPTION_USE_STD_STRING_VIEW is 0), so absl::StrCat and
// friends need an explicit conversion.
absl::string_view AsAbsl(std::string_view s) { return {s.data(), s.size()}; }

bool IsAsciiSpace(char c) {
  return absl::ascii_isspace(static_cast<unsigned char>(c));
}

std::string_view StripWhitespace(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string ToLowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(AsAbsl(a), AsAbsl(b));
}

// --- Value parsers ---
//
// The parsers below return an error whose message is only the reason
// ("expected a duration such as ..."); the public entry points prefix it with
// the value, and the getters with the key too, so both read naturally.

constexpr char kDurationForm[] =
    R"(expected a duration such as "100 ms", "1 s" or "2 min")";
constexpr char kMemorySizeForm[] =
    R"(expected a memory size such as "32 kb", "64 mb" or "1 gb")";

struct NumberAndUnit {
  uint64_t number;
  std::string unit;  // lower-cased, possibly empty
};

// Splits "<digits><whitespace?><unit?>" (already trimmed). The number is the
// leading run of ASCII digits. nullopt if there is no number or it overflows;
// `overflow` says which.
std::optional<NumberAndUnit> SplitNumberAndUnit(std::string_view text,
                                                bool* overflow) {
  *overflow = false;
  size_t pos = 0;
  uint64_t number = 0;
  while (pos < text.size() && absl::ascii_isdigit(text[pos])) {
    const uint64_t digit = static_cast<uint64_t>(text[pos] - '0');
    if (number > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      *overflow = true;
      return std::nullopt;
    }
    number = number * 10 + digit;
    ++pos;
  }
  if (pos == 0) return std::nullopt;
  return NumberAndUnit{number, ToLowerAscii(StripWhitespace(text.substr(pos)))};
}

bool IsOneOf(std::string_view unit,
             std::initializer_list<std::string_view> labels) {
  for (std::string_view label : labels) {
    if (unit == label) return true;
  }
  return false;
}

// Nanoseconds per unit, or 0 for an unknown unit. The labels are those of
// Flink's TimeUtils (which also takes "m" for minutes), so values copied from
// a Flink configuration keep working.
uint64_t NanosPerDurationUnit(std::string_view unit) {
  if (unit.empty() ||
      IsOneOf(unit, {"ms", "milli", "millis", "millisecond", "milliseconds"})) {
    return 1'000'000;
  }
  if (IsOneOf(unit, {"ns", "nano", "nanos", "nanosecond", "nanoseconds"})) {
    return 1;
  }
  // "µs" in UTF-8; ToLowerAscii leaves its non-ASCII bytes alone.
  if (IsOneOf(unit, {"\xC2\xB5s", "micro", "micros", "microsecond",
                     "microseconds"})) {
    return 1'000;
  }
  if (IsOneOf(unit, {"s", "sec", "secs", "second", "seconds"})) {
    return 1'000'000'000;
  }
  if (IsOneOf(unit, {"m", "min", "minute", "minutes"})) {
    return 60ULL * 1'000'000'000;
  }
  if (IsOneOf(unit, {"h", "hour", "hours"})) return 3600ULL * 1'000'000'000;
  if (IsOneOf(unit, {"d", "day", "days"})) return 86400ULL * 1'000'000'000;
  return 0;
}

absl::StatusOr<std::chrono::milliseconds> ParseDurationReason(
    std::string_view text) {
  text = StripWhitespace(text);
  if (text.starts_with('-')) {
    return absl::InvalidArgumentError(
        R"(expected a non-negative duration such as "100 ms", "1 s" or "2 min")");
  }
  bool overflow = false;
  std::optional<NumberAndUnit> parts = SplitNumberAndUnit(text, &overflow);
  const std::string too_large =
      absl::StrCat("expected a duration of at most ",
                   std::numeric_limits<int64_t>::max(), " ms");
  if (overflow) return absl::InvalidArgumentError(too_large);
  if (!parts) return absl::InvalidArgumentError(kDurationForm);
  const uint64_t nanos_per_unit = NanosPerDurationUnit(parts->unit);
  if (nanos_per_unit == 0) return absl::InvalidArgumentError(kDurationForm);

  constexpr uint64_t kNanosPerMilli = 1'000'000;
  constexpr uint64_t kMaxMillis = std::numeric_limits<int64_t>::max();
  uint64_t millis;
  if (nanos_per_unit >= kNanosPerMilli) {
    // Milliseconds and coarser units are whole multiples of a millisecond.
    const uint64_t millis_per_unit = nanos_per_unit / kNanosPerMilli;
    if (parts->number > kMaxMillis / millis_per_unit) {
      return absl::InvalidArgumentError(too_large);
    }
    millis = parts->number * millis_per_unit;
  } else {
    // Finer units truncate to whole milliseconds, the resolution Eddy keeps.
    millis = parts->number / (kNanosPerMilli / nanos_per_unit);
  }
  return std::chrono::milliseconds(static_cast<int64_t>(millis));
}

// Bytes per unit, or 0 for an unknown unit; Flink's MemorySize labels.
uint64_t BytesPerMemoryUnit(std::string_view unit) {
  if (unit.empty() || IsOneOf(unit, {"b", "bytes"})) return 1;
  if (IsOneOf(unit, {"k", "kb", "kibibytes"})) return 1ULL << 10;
  if (IsOneOf(unit, {"m", "mb", "mebibytes"})) return 1ULL << 20;
  if (IsOneOf(unit, {"g", "gb", "gibibytes"})) return 1ULL << 30;
  if (IsOneOf(unit, {"t", "tb", "tebibytes"})) return 1ULL << 40;
  return 0;
}

absl::StatusOr<uint64_t> ParseMemorySizeReason(std::string_view text) {
  text = StripWhitespace(text);
  if (text.starts_with('-')) {
    return absl::InvalidArgumentError(
        R"(expected a non-negative memory size such as "32 kb", "64 mb" or "1 gb")");
  }
  bool overflow = false;
  std::optional<NumberAndUnit> parts = SplitNumberAndUnit(text, &overflow);
  const std::string too_large =
      absl::StrCat("expected a memory size of at most ",
                   std::numeric_limits<uint64_t>::max(), " bytes");
  if (overflow) return absl::InvalidArgumentError(too_large);
  if (!parts) return absl::InvalidArgumentError(kMemorySizeForm);
  const uint64_t bytes_per_unit = BytesPerMemoryUnit(parts->unit);
  if (bytes_per_unit == 0) return absl::InvalidArgumentError(kMemorySizeForm);
  if (parts->number > std::numeric_limits<uint64_t>::max() / bytes_per_unit) {
    return absl::InvalidArgumentError(too_large);
  }
  return parts->number * bytes_per_unit;
}

absl::StatusOr<int64_t> ParseIntReason(std::string_view text) {
  int64_t value;
  if (!absl::SimpleAtoi(AsAbsl(text), &value)) {
    return absl::InvalidArgumentError("expected a 64-bit integer such as 42");
  }
  return value;
}

absl::StatusOr<bool> ParseBoolReason(std::string_view text) {
  if (EqualsIgnoreCase(text, "true")) return true;
  if (EqualsIgnoreCase(text, "false")) return false;
  return absl::InvalidArgumentError(R"(expected "true" or "false")");
}

absl::StatusOr<double> ParseDoubleReason(std::string_view text) {
  double value;
  if (!absl::SimpleAtod(AsAbsl(text), &value) || !std::isfinite(value)) {
    return absl::InvalidArgumentError("expected a finite number such as 0.75");
  }
  return value;
}

absl::StatusOr<std::string> ParseEnumReason(
    std::string_view text, std::initializer_list<std::string_view> allowed) {
  for (std::string_view candidate : allowed) {
    if (EqualsIgnoreCase(text, candidate)) return std::string(candidate);
  }
  std::string message = "expected one of ";
  for (const std::string_view& candidate : allowed) {
    if (&candidate != allowed.begin()) message += ", ";
    message += candidate;
  }
  return absl::InvalidArgumentError(message);
}

// Rewrites a reason-only error from the parsers above into the message users
// see: it names the key, the value and (from the reason) the expected form.
absl::Status ForKey(const absl::Status& reason, std::string_view key,
                    std::string_view value) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid value '", AsAbsl(value), "' for key '", AsAbsl(key),
                   "': ", reason.message()));
}

template <typename T>
absl::StatusOr<T> WithKey(absl::StatusOr<T> parsed, std::string_view key,
                          std::string_view value) {
  if (!parsed.ok()) return ForKey(parsed.status(), key, value);
  return parsed;
}

// --- YAML flattening ---

// 1-based line of a node, for messages; 0 when yaml-cpp has no position.
int LineOf(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

absl::Status ConfigErrorAt(std::string_view origin, const YAML::Node& node,
                           std::string_view what) {
  const int line = LineOf(node);
  if (line == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid configuration in ", AsAbsl(origin), ": ", AsAbsl(what)));
  }
  return absl::InvalidArgumentError(absl::StrCat("invalid configuration in ",
                                                 AsAbsl(origin), " at line ",
                                                 line, ": ", AsAbsl(what)));
}

absl::Status Store(std::string key, std::string value, const YAML::Node& at,
                   std::string_view origin,
                   std::map<std::string, std::string>* out) {
  // Flat and nested spellings of one key could otherwise silently override
  // each other depending on their order in the file.
  auto [it, inserted] = out->try_emplace(std::move(key), std::move(value));
  if (!inserted) {
    return ConfigErrorAt(
        origin, at,
        absl::StrCat("key '", it->first, "' is defined more than once"));
  }
  return absl::OkStatus();
}

absl::Status FlattenMap(const YAML::Node& map, const std::string& prefix,
                        std::string_view origin,
                        std::map<std::string, std::string>* out) {
  for (const auto& entry : map) {
    // Copies, not references: yaml-cpp's iterator yields a temporary pair
    // (its operator-> returns a proxy), and Nodes are cheap handles.
    const YAML::Node key_node = entry.first;
    const YAML::Node value = entry.second;
    if (!key_node.IsScalar()) {
      return ConfigErrorAt(origin, key_node,
                           "keys must be plain strings, not lists or maps");
    }
    const std::string_view key_text = StripWhitespace(key_node.Scalar());
    if (key_text.empty()) {
      return ConfigErrorAt(origin, key_node, "empty key");
    }
    std::string key = prefix.empty()
                          ? std::string(key_text)
                          : absl::StrCat(prefix, ".", AsAbsl(key_text));

    switch (value.Type()) {
      case YAML::NodeType::Map:
        RETURN_IF_ERROR(FlattenMap(value, key, origin, out));
        break;
      case YAML::NodeType::Sequence: {
        std::string joined;
        for (size_t i = 0; i < value.size(); ++i) {
          const YAML::Node element = value[i];
          if (!element.IsScalar() && !element.IsNull()) {
            return ConfigErrorAt(
                origin, element,
                absl::StrCat(
                    "the list for key '", key,
                    "' may only hold plain values, not lists or maps"));
          }
          if (i > 0) joined += ',';
          if (element.IsScalar()) joined += element.Scalar();
        }
        RETURN_IF_ERROR(
            Store(std::move(key), std::move(joined), key_node, origin, out));
        break;
      }
      case YAML::NodeType::Scalar:
        RETURN_IF_ERROR(
            Store(std::move(key), value.Scalar(), key_node, origin, out));
        break;
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        // "key:" with nothing after it: present but empty, which the typed
        // getters treat as "use the default".
        RETURN_IF_ERROR(Store(std::move(key), "", key_node, origin, out));
        break;
    }
  }
  return absl::OkStatus();
}

}  // namespace

// --- Free parsers ---

absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto parsed = ParseDurationReason(text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid duration '", AsAbsl(text), "': ", parsed.status().message()));
  }
  return parsed;
}

absl::StatusOr<uint64_t> ParseMemorySize(std::string_view text) {
  auto parsed = ParseMemorySizeReason(text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid memory size '", AsAbsl(text),
                     "': ", parsed.status().message()));
  }
  return parsed;
}

// --- Loading ---

absl::StatusOr<Configuration> Configuration::LoadYamlFile(
    const std::string& path) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    return absl::NotFoundError(
        absl::StrCat("configuration file '", path, "' does not exist"));
  }
  if (std::filesystem::is_directory(status)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "configuration file '", path, "' is a directory, not a file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("cannot open configuration file '", path, "'"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("cannot read configuration file '", path, "'"));
  }
  return ParseYaml(text.str(), path);
}

absl::StatusOr<Configuration> Configuration::ParseYaml(
    std::string_view text, std::string_view origin) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    // yaml-cpp counts lines and columns from 0.
    if (e.mark.is_null()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid YAML in ", AsAbsl(origin), ": ", e.msg));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid YAML in ", AsAbsl(origin), " at line ", e.mark.line + 1,
        ", column ", e.mark.column + 1, ": ", e.msg));
  }

  Configuration config;
  if (root.IsNull() || !root.IsDefined()) return config;  // empty document
  if (!root.IsMap()) {
    return ConfigErrorAt(origin, root,
                         "expected a map of keys to values at the top level");
  }
  try {
    RETURN_IF_ERROR(FlattenMap(root, "", origin, &config.entries_));
  } catch (const YAML::Exception& e) {
    // Node accessors can throw on malformed trees; never let that escape.
    return absl::InvalidArgumentError(
        absl::StrCat("invalid YAML in ", AsAbsl(origin), ": ", e.what()));
  }
  return config;
}

// --- Entries ---

absl::Status Configuration::ApplyOverride(std::string_view key_equals_value) {
  const size_t eq = key_equals_value.find('=');
  const std::string_view key =
      eq == std::string_view::npos
          ? std::string_view()
          : StripWhitespace(key_equals_value.substr(0, eq));
  if (key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid -D argument '", AsAbsl(key_equals_value),
                     "': expected the form key=value"));
  }
  Set(std::string(key),
      std::string(StripWhitespace(key_equals_value.substr(eq + 1))));
  return absl::OkStatus();
}

void Configuration::Set(std::string key, std::string value) {
  entries_.insert_or_assign(std::move(key), std::move(value));
}

bool Configuration::Contains(std::string_view key) const {
  return entries_.find(std::string(key)) != entries_.end();
}

std::optional<std::string> Configuration::GetRaw(std::string_view key) const {
  auto it = entries_.find(std::string(key));
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void Configuration::MergeFrom(const Configuration& other) {
  for (const auto& [key, value] : other.entries_) entries_[key] = value;
}

// --- Typed getters ---

std::optional<std::string_view> Configuration::TypedValue(
    std::string_view key) const {
  auto it = entries_.find(std::string(key));
  if (it == entries_.end()) return std::nullopt;
  std::string_view value = StripWhitespace(it->second);
  if (value.empty()) return std::nullopt;
  return value;
}

absl::StatusOr<std::string_view> Configuration::OptionValue(
    const ConfigOption& option) const {
  if (std::optional<std::string_view> value = TypedValue(option.key)) {
    return *value;
  }
  std::string_view fallback = StripWhitespace(option.default_value);
  if (fallback.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("option '", AsAbsl(option.key),
                     "' is not set and has no default; read it with GetRaw or "
                     "GetOptionalDuration"));
  }
  return fallback;
}

absl::StatusOr<std::string> Configuration::GetString(
    std::string_view key, std::string_view default_value) const {
  auto it = entries_.find(std::string(key));
  if (it == entries_.end()) return std::string(default_value);
  return it->second;
}

absl::StatusOr<int64_t> Configuration::GetInt(std::string_view key,
                                              int64_t default_value) const {
  std::optional<std::string_view> value = TypedValue(key);
  if (!value) return default_value;
  return WithKey(ParseIntReason(*value), key, *value);
}

absl::StatusOr<bool> Configuration::GetBool(std::string_view key,
                                            bool default_value) const {
  std::optional<std::string_view> value = TypedValue(key);
  if (!value) return default_value;
  return WithKey(ParseBoolReason(*value), key, *value);
}

absl::StatusOr<double> Configuration::GetDouble(std::string_view key,
                                                double default_value) const {
  std::optional<std::string_view> value = TypedValue(key);
  if (!value) return default_value;
  return WithKey(ParseDoubleReason(*value), key, *value);
}

absl::StatusOr<std::chrono::milliseconds> Configuration::GetDuration(
    std::string_view key, std::chrono::milliseconds default_value) const {
  std::optional<std::string_view> value = TypedValue(key);
  if (!value) return default_value;
  return WithKey(ParseDurationReason(*value), key, *value);
}

absl::StatusOr<uint64_t> Configuration::GetMemorySize(
    std::string_view key, uint64_t default_value) const {
  std::optional<std::string_view> value = TypedValue(key);
  if (!value) return default_value;
  return WithKey(ParseMemorySizeReason(*value), key, *value);
}

absl::StatusOr<std::string> Configuration::GetEnum(
    std::string_view key, std::string_view default_value,
    std::initializer_list<std::string_view> allowed) const {
  std::optional<std::string_view> value = TypedValue(key);
  if (!value) return std::string(default_value);
  return WithKey(ParseEnumReason(*value, allowed), key, *value);
}

absl::StatusOr<std::optional<std::chrono::milliseconds>>
Configuration::GetOptionalDuration(std::string_view key) const {
  std::optional<std::string_view> value = TypedValue(key);
  if (!value) return std::optional<std::chrono::milliseconds>();
  ASSIGN_OR_RETURN(std::chrono::milliseconds parsed,
                   WithKey(ParseDurationReason(*value), key, *value));
  return std::optional<std::chrono::milliseconds>(parsed);
}

absl::StatusOr<std::string> Configuration::GetString(
    const ConfigOption& option) const {
  return GetString(option.key, option.default_value);
}

absl::StatusOr<int64_t> Configuration::GetInt(
    const ConfigOption& option) const {
  ASSIGN_OR_RETURN(std::string_view value, OptionValue(option));
  return WithKey(ParseIntReason(value), option.key, value);
}

absl::StatusOr<bool> Configuration::GetBool(const ConfigOption& option) const {
  ASSIGN_OR_RETURN(std::string_view value, OptionValue(option));
  return WithKey(ParseBoolReason(value), option.key, value);
}

absl::StatusOr<double> Configuration::GetDouble(
    const ConfigOption& option) const {
  ASSIGN_OR_RETURN(std::string_view value, OptionValue(option));
  return WithKey(ParseDoubleReason(value), option.key, value);
}

absl::StatusOr<std::chrono::milliseconds> Configuration::GetDuration(
    const ConfigOption& option) const {
  ASSIGN_OR_RETURN(std::string_view value, OptionValue(option));
  return WithKey(ParseDurationReason(value), option.key, value);
}

absl::StatusOr<uint64_t> Configuration::GetMemorySize(
    const ConfigOption& option) const {
  ASSIGN_OR_RETURN(std::string_view value, OptionValue(option));
  return WithKey(ParseMemorySizeReason(value), option.key, value);
}

absl::StatusOr<std::string> Configuration::GetEnum(
    const ConfigOption& option,
    std::initializer_list<std::string_view> allowed) const {
  ASSIGN_OR_RETURN(std::string_view value, OptionValue(option));
  return WithKey(ParseEnumReason(value, allowed), option.key, value);
}

}  // namespace eddy
