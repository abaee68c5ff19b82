// user-behavior-gen: writes the user-behaviour data sets as the jobs read them.
//
//   user-behavior-gen --output DIR [--seed 42] [--user-behavior 50000] [--apache-logs 10000]
//                     [--ad-clicks 5000] [--marketing 2000] [--logins 5000] [--orders 2000]
//
// Files: DIR/UserBehavior.csv, apache.log, AdClickLog.csv, AppMarketing.csv,
// LoginLog.csv, OrderLog.csv. The same seed and counts always give the same
// bytes, and the same records the jobs' generator sources emit.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "generators.h"

namespace {

template <class T>
bool WriteLines(const std::filesystem::path& path, const std::vector<T>& records) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (const T& r : records) out << user_behavior::ToLine(r) << '\n';
  out.close();
  if (!out) {
    std::cerr << "Error: cannot write " << path.string() << "\n";
    return false;
  }
  std::cout << path.string() << ": " << records.size() << " lines\n";
  return true;
}

int Usage(const std::string& problem) {
  std::cerr << "Error: " << problem << "\n\n"
            << "Usage: user-behavior-gen --output DIR [--seed N] [--user-behavior N] [--apache-logs N]\n"
            << "                         [--ad-clicks N] [--marketing N] [--logins N] [--orders N]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, int64_t> counts = {{"seed", 42},        {"user-behavior", 50000}, {"apache-logs", 10000},
                                           {"ad-clicks", 5000}, {"marketing", 2000},      {"logins", 5000},
                                           {"orders", 2000}};
  std::string output;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag.rfind("--", 0) != 0 || i + 1 >= argc) return Usage("expected --option value, got '" + flag + "'");
    std::string name = flag.substr(2), value = argv[++i];
    if (name == "output") {
      output = value;
      continue;
    }
    if (counts.count(name) == 0) return Usage("unknown option '" + flag + "'");
    char* end = nullptr;
    long long number = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || number < 0) {
      return Usage(flag + " needs a non-negative integer, got '" + value + "'");
    }
    counts[name] = number;
  }
  if (output.empty()) return Usage("--output DIR is required");
  std::error_code error;
  std::filesystem::create_directories(output, error);
  if (error) {
    std::cerr << "Error: cannot create " << output << ": " << error.message() << "\n";
    return 1;
  }
  using namespace user_behavior;
  const uint64_t seed = static_cast<uint64_t>(counts["seed"]);
  const std::filesystem::path dir(output);
  bool ok = WriteLines(dir / "UserBehavior.csv", GenerateUserBehavior(counts["user-behavior"], seed)) &&
            WriteLines(dir / "apache.log", GenerateApacheLogs(counts["apache-logs"], seed)) &&
            WriteLines(dir / "AdClickLog.csv", GenerateAdClicks(counts["ad-clicks"], seed)) &&
            WriteLines(dir / "AppMarketing.csv", GenerateMarketing(counts["marketing"], seed)) &&
            WriteLines(dir / "LoginLog.csv", GenerateLogins(counts["logins"], seed)) &&
            WriteLines(dir / "OrderLog.csv", GenerateOrders(counts["orders"], seed));
  return ok ? 0 : 1;
}
