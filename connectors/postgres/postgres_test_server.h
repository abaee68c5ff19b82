// A throw-away PostgreSQL server for the connector's tests and benchmark:
// initdb into a temporary directory, start on a free loopback port with trust
// authentication and prepared transactions enabled, stop (immediate) and
// delete everything in the destructor. initdb and postgres refuse to run as
// root, so as root they run as the `postgres` user through runuser, with the
// directory handed to that user.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "eddy/connectors/postgres.h"

namespace eddy::testing {

class PostgresTestServer {
 public:
  static constexpr const char* kUser = "eddy";

  PostgresTestServer() {
    bin_ = FindBinDir();
    char pattern[] = "/tmp/eddy-pg-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed for the PostgreSQL test server");
    dir_ = pattern;
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (pw == nullptr) throw std::runtime_error("running as root needs a 'postgres' user to run the server");
      if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        throw std::runtime_error("cannot hand " + dir_.string() + " to the postgres user");
      }
    }
    try {
      Start();
    } catch (...) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
      throw;
    }
  }
  ~PostgresTestServer() {
    if (started_) {
      try {
        Run({(bin_ / "pg_ctl").string(), "-D", (dir_ / "data").string(), "-m", "immediate", "-w", "stop"},
            "pg_ctl stop");
      } catch (const std::exception&) {
        // Best effort: the directory goes anyway.
      }
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  PostgresTestServer(const PostgresTestServer&) = delete;
  PostgresTestServer& operator=(const PostgresTestServer&) = delete;

  int port() const { return port_; }
  connectors::PostgresConnectionOptions options() const {
    connectors::PostgresConnectionOptions options;
    options.host = "127.0.0.1";
    options.port = port_;
    options.database = "postgres";
    options.user = kUser;
    return options;
  }

 private:
  void Start() {
    port_ = FreePort();
    const std::string data = (dir_ / "data").string();
    Run({(bin_ / "initdb").string(), "-D", data, "-U", kUser, "--auth=trust", "-E", "UTF8", "--no-sync", "-N"},
        "initdb");
    Run({(bin_ / "pg_ctl").string(), "-D", data, "-l", (dir_ / "server.log").string(), "-w", "-t", "30", "-o",
         "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) + " -c unix_socket_directories=" + dir_.string() +
             " -c max_prepared_transactions=64 -c fsync=off",
         "start"},
        "pg_ctl start");
    started_ = true;
  }

  // The bin directory of the newest installed major version.
  static std::filesystem::path FindBinDir() {
    std::filesystem::path best;
    int best_version = -1;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", error)) {
      const auto bin = entry.path() / "bin";
      const int version = std::atoi(entry.path().filename().c_str());
      if (std::filesystem::exists(bin / "initdb") && version > best_version) {
        best = bin;
        best_version = version;
      }
    }
    if (best.empty()) throw std::runtime_error("no PostgreSQL server under /usr/lib/postgresql/*/bin");
    return best;
  }

  static int FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      if (fd >= 0) ::close(fd);
      throw std::runtime_error("cannot find a free loopback port");
    }
    ::close(fd);
    return ntohs(address.sin_port);
  }

  // Runs `argv` (as the postgres user when root) with output in the log;
  // throws naming `what` and the log on failure.
  void Run(std::vector<std::string> argv, const std::string& what) const {
    if (::geteuid() == 0) argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
    const std::string log = (dir_ / "commands.log").string();
    std::fflush(nullptr);  // or the child's freopen writes our buffered output again
    const pid_t pid = ::fork();
    if (pid == 0) {
      std::vector<char*> args;
      for (std::string& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      if (std::FILE* out = std::freopen(log.c_str(), "a", stdout)) ::dup2(::fileno(out), STDERR_FILENO);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      throw std::runtime_error(what + " failed for the PostgreSQL test server in " + dir_.string() + " (see " + log +
                               " and server.log)");
    }
  }

  std::filesystem::path bin_;
  std::filesystem::path dir_;
  int port_ = 0;
  bool started_ = false;
};

}  // namespace eddy::testing
