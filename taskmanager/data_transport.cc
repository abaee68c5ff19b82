// The TCP data plane between TaskManagers: partition registry, data server,
// client connections and remote input channels (see data_transport.h for the
// protocol and the flow-control contract).
#include "taskmanager/data_transport.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "eddy/status.h"
#include "spdlog/spdlog.h"

namespace eddy::runtime {

using Clock = std::chrono::steady_clock;

// ---- Wire format ----

namespace {

enum FrameType : uint8_t {
  kPartitionRequest = 1,
  kAddCredit = 2,
  kCloseChannel = 3,
  kBufferFrame = 4,
  kEventFrame = 5,
  kErrorFrame = 6,
};

constexpr size_t kFrameHeaderSize = 5;                // u32 length, u8 type
constexpr uint32_t kMaxFrameLength = 64u << 20;       // a corrupt or foreign stream, not a buffer
constexpr uint32_t kMaxControlFrameLength = 1 << 16;  // what a consumer may send
constexpr int kMaxMessagesPerTurn = 16;               // per channel, before the next channel's turn
constexpr size_t kReadBufferSize = 64 * 1024;
constexpr size_t kDirectReadThreshold = 4096;  // larger payload rests bypass the read buffer

void EncodeU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

uint32_t DecodeU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

void PutU32(std::string* out, uint32_t v) {
  char b[4];
  EncodeU32(b, v);
  out->append(b, 4);
}

void PutU64(std::string* out, uint64_t v) {
  PutU32(out, static_cast<uint32_t>(v));
  PutU32(out, static_cast<uint32_t>(v >> 32));
}

uint64_t DecodeU64(const char* p) {
  return static_cast<uint64_t>(DecodeU32(p)) | (static_cast<uint64_t>(DecodeU32(p + 4)) << 32);
}

void PutHeader(std::string* out, FrameType type, size_t length) {
  PutU32(out, static_cast<uint32_t>(length));
  out->push_back(static_cast<char>(type));
}

void AppendEvent(std::string* out, uint32_t channel, const NetworkEvent& event) {
  PutHeader(out, kEventFrame, 13 + event.payload.size());
  PutU32(out, channel);
  out->push_back(static_cast<char>(event.kind));
  PutU64(out, static_cast<uint64_t>(event.value));
  out->append(event.payload);
}

void AppendError(std::string* out, uint32_t channel, std::string_view message) {
  PutHeader(out, kErrorFrame, 4 + message.size());
  PutU32(out, channel);
  out->append(message);
}

void AppendChannelControl(std::string* out, FrameType type, uint32_t channel) {
  PutHeader(out, type, 4);
  PutU32(out, channel);
}

void AppendAddCredit(std::string* out, uint32_t channel, uint32_t credits) {
  PutHeader(out, kAddCredit, 8);
  PutU32(out, channel);
  PutU32(out, credits);
}

void AppendPartitionRequest(std::string* out, uint32_t channel, const ResultPartitionId& id, int subpartition,
                            int credit) {
  PutHeader(out, kPartitionRequest, 24 + id.job_id.size());
  PutU32(out, channel);
  PutU32(out, static_cast<uint32_t>(subpartition));
  PutU32(out, static_cast<uint32_t>(credit));
  PutU32(out, static_cast<uint32_t>(id.edge_index));
  PutU32(out, static_cast<uint32_t>(id.producer_subtask));
  PutU32(out, static_cast<uint32_t>(id.attempt));
  out->append(id.job_id);
}

// ---- Sockets ----

std::string ErrnoText(int err) { return std::strerror(err); }

// Writes all of `iov` (adjusting it as it goes). MSG_NOSIGNAL: a peer that
// vanished is an error value, not a SIGPIPE.
absl::Status SendAll(int fd, iovec* iov, int count) {
  while (count > 0) {
    if (iov->iov_len == 0) {
      ++iov;
      --count;
      continue;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("send failed: ", ErrnoText(errno)));
    }
    size_t left = static_cast<size_t>(n);
    while (count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return absl::OkStatus();
}

absl::Status SendString(int fd, const std::string& data) {
  iovec iov{const_cast<char*>(data.data()), data.size()};
  return SendAll(fd, &iov, 1);
}

void SetNoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// Splits "host:port" (or "[v6]:port").
absl::Status ParseAddress(const std::string& address, std::string* host, std::string* port) {
  size_t colon = address.rfind(':');
  int unused = 0;
  if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(address.substr(colon + 1), &unused)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid TaskManager data address '", address, "': expected host:port"));
  }
  *host = address.substr(0, colon);
  *port = address.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']')
    *host = host->substr(1, host->size() - 2);
  return absl::OkStatus();
}

// Connects to `address` within `timeout`; the socket is blocking, TCP_NODELAY.
absl::StatusOr<int> Connect(const std::string& address, std::chrono::milliseconds timeout) {
  std::string host, port;
  RETURN_IF_ERROR(ParseAddress(address, &host, &port));
  auto fail = [&](const std::string& reason) {
    return absl::UnavailableError(absl::StrCat("cannot connect to TaskManager ", address, ": ", reason));
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &result); rc != 0) {
    return fail(::gai_strerror(rc));
  }
  const auto deadline = Clock::now() + timeout;
  std::string reason = "no address";
  int fd = -1;
  for (addrinfo* ai = result; ai != nullptr && fd < 0; ai = ai->ai_next) {
    int s = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (s < 0) {
      reason = ErrnoText(errno);
      continue;
    }
    int rc = ::connect(s, ai->ai_addr, ai->ai_addrlen);
    if (rc < 0 && errno == EINPROGRESS) {
      pollfd p{s, POLLOUT, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
      if (rc == 0) {
        errno = ETIMEDOUT;
        rc = -1;
      } else if (rc > 0) {
        int err = 0;
        socklen_t len = sizeof(err);
        ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
        errno = err;
        rc = err == 0 ? 0 : -1;
      }
    }
    if (rc < 0) {
      reason = ErrnoText(errno);
      ::close(s);
      continue;
    }
    ::fcntl(s, F_SETFL, ::fcntl(s, F_GETFL) & ~O_NONBLOCK);
    SetNoDelay(s);
    fd = s;
  }
  ::freeaddrinfo(result);
  if (fd < 0) return fail(reason);
  return fd;
}

// Reads frames from a socket through a buffer, so that small frames cost no
// syscall each; large payloads are read straight into their destination.
class FrameReader {
 public:
  explicit FrameReader(int fd) : fd_(fd), buf_(std::make_unique_for_overwrite<char[]>(kReadBufferSize)) {}

  // The next frame's type and payload length.
  absl::Status Next(uint8_t* type, uint32_t* length) {
    while (end_ - begin_ < kFrameHeaderSize) RETURN_IF_ERROR(Fill());
    *length = DecodeU32(buf_.get() + begin_);
    *type = static_cast<uint8_t>(buf_[begin_ + 4]);
    begin_ += kFrameHeaderSize;
    if (*length > kMaxFrameLength) {
      return absl::DataLossError(absl::StrCat("protocol error: frame of ", *length, " bytes"));
    }
    return absl::OkStatus();
  }

  // Reads exactly `n` bytes of the current frame.
  absl::Status Read(char* dst, size_t n) {
    while (n > 0) {
      size_t have = end_ - begin_;
      if (have > 0) {
        size_t take = std::min(have, n);
        std::memcpy(dst, buf_.get() + begin_, take);
        begin_ += take;
        dst += take;
        n -= take;
        continue;
      }
      if (n >= kDirectReadThreshold) {
        ssize_t r = ::recv(fd_, dst, n, 0);
        if (r <= 0) RETURN_IF_ERROR(RecvError(r));
        if (r > 0) {
          dst += r;
          n -= static_cast<size_t>(r);
        }
        continue;
      }
      RETURN_IF_ERROR(Fill());
    }
    return absl::OkStatus();
  }

 private:
  absl::Status RecvError(ssize_t r) {
    if (r == 0) return absl::UnavailableError("connection closed by the remote side");
    if (errno == EINTR) return absl::OkStatus();
    return absl::UnavailableError(absl::StrCat("receive failed: ", ErrnoText(errno)));
  }

  // Reads at least one more byte into the buffer.
  absl::Status Fill() {
    if (begin_ == end_) {
      begin_ = end_ = 0;
    } else if (end_ == kReadBufferSize) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    while (true) {
      ssize_t r = ::recv(fd_, buf_.get() + end_, kReadBufferSize - end_, 0);
      if (r > 0) {
        end_ += static_cast<size_t>(r);
        return absl::OkStatus();
      }
      RETURN_IF_ERROR(RecvError(r));
    }
  }

  int fd_;
  std::unique_ptr<char[]> buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace

// ---- ResultPartitionId ----

std::string ResultPartitionId::ToString() const {
  return absl::StrCat(job_id, "/", edge_index, "/", producer_subtask, "/", attempt);
}

// ---- PartitionRegistry ----

PartitionRegistry::~PartitionRegistry() = default;

absl::Status PartitionRegistry::Register(const ResultPartitionId& id, ResultPartition* partition) {
  const std::string key = id.ToString();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.count(key) != 0) {
      return absl::AlreadyExistsError(absl::StrCat("result partition ", key, " is already registered"));
    }
    Entry& e = entries_[key];
    e.id = id;
    e.partition = partition;
    e.leased.assign(static_cast<size_t>(partition->num_subpartitions()), false);
  }
  cv_.notify_all();
  std::lock_guard<std::mutex> lock(listeners_mu_);
  for (Listener* l : listeners_) l->OnRegistered(key);
  return absl::OkStatus();
}

void PartitionRegistry::Unregister(const ResultPartitionId& id) { UnregisterKeys({id.ToString()}); }

void PartitionRegistry::Release(const std::string& job_id) {
  std::vector<std::string> keys;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, e] : entries_) {
      if (e.id.job_id == job_id) keys.push_back(key);
    }
  }
  UnregisterKeys(keys);
}

void PartitionRegistry::UnregisterKeys(const std::vector<std::string>& keys) {
  if (keys.empty()) return;
  std::vector<std::string> released;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& key : keys) {
      auto it = entries_.find(key);
      if (it == entries_.end()) continue;
      it->second.released = true;
      released.push_back(key);
    }
  }
  {
    std::lock_guard<std::mutex> lock(listeners_mu_);
    for (const std::string& key : released) {
      for (Listener* l : listeners_) l->OnReleased(key);
    }
  }
  // Readers detach on their own threads; wait until every lease is back.
  std::unique_lock<std::mutex> lock(mu_);
  for (const std::string& key : released) {
    cv_.wait(lock, [&] {
      auto it = entries_.find(key);
      return it == entries_.end() || it->second.leases == 0;
    });
    entries_.erase(key);
  }
}

ResultPartition* PartitionRegistry::WaitFor(const ResultPartitionId& id, Clock::time_point deadline) {
  const std::string key = id.ToString();
  std::unique_lock<std::mutex> lock(mu_);
  ResultPartition* found = nullptr;
  cv_.wait_until(lock, deadline, [&] {
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.released) return false;
    found = it->second.partition;
    return true;
  });
  return found;
}

void PartitionRegistry::AddListener(Listener* listener) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  listeners_.push_back(listener);
}

void PartitionRegistry::RemoveListener(Listener* listener) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), listener), listeners_.end());
}

absl::StatusOr<Subpartition*> PartitionRegistry::AcquireSubpartition(const ResultPartitionId& id, int index) {
  const std::string key = id.ToString();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.released) {
    return absl::NotFoundError(absl::StrCat("result partition ", key, " is not registered"));
  }
  Entry& e = it->second;
  if (index < 0 || index >= static_cast<int>(e.leased.size())) {
    return absl::InvalidArgumentError(absl::StrCat("result partition ", key, " has ", e.leased.size(),
                                                   " subpartitions; subpartition ", index, " requested"));
  }
  if (e.leased[static_cast<size_t>(index)]) {
    return absl::FailedPreconditionError(
        absl::StrCat("subpartition ", index, " of result partition ", key, " is already being read"));
  }
  e.leased[static_cast<size_t>(index)] = true;
  ++e.leases;
  return &e.partition->subpartition(index);
}

void PartitionRegistry::ReturnSubpartition(const ResultPartitionId& id, int index) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(id.ToString());
    if (it == entries_.end() || !it->second.leased[static_cast<size_t>(index)]) return;
    it->second.leased[static_cast<size_t>(index)] = false;
    --it->second.leases;
  }
  cv_.notify_all();
}

// ---- Producer side: one accepted connection ----

namespace transport_internal {

// The reader thread decodes requests, credits and closes into state that the
// writer thread acts on; only the writer polls subpartitions and sends, and
// only the writer (or the reader, after joining the writer) detaches channels.
class ServerConnection final : public AvailabilityListener {
 public:
  ServerConnection(int fd, std::string peer, PartitionRegistry* registry, std::chrono::milliseconds timeout)
      : fd_(fd), peer_(std::move(peer)), registry_(registry), timeout_(timeout) {}
  ~ServerConnection() override { Join(); }

  void Start() {
    reader_ = std::thread([this] { ReaderMain(); });
  }
  // Makes both threads end soon (their blocking socket calls fail).
  void Shutdown() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    cv_.notify_all();
  }
  void Join() {
    if (reader_.joinable()) reader_.join();
  }
  bool finished() const { return finished_.load(); }

  // A subpartition has new data for channel `channel` (any producer thread).
  void NotifyDataAvailable(int channel) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = channels_.find(static_cast<uint32_t>(channel));
    if (it == channels_.end()) return;
    MarkAvailableLocked(it->second.get());
  }

  void OnRegistered() {
    std::lock_guard<std::mutex> lock(mu_);
    pending_dirty_ = true;  // even if pending_ looks empty: the writer may hold it
    cv_.notify_all();
  }

  void OnReleased(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    released_keys_.push_back(key);
    cv_.notify_all();
  }

 private:
  struct Channel {
    uint32_t id = 0;
    ResultPartitionId partition;
    std::string key;
    int index = 0;
    Subpartition* subpartition = nullptr;  // leased from the registry
    int credit = 0;
    bool available = true;  // may have something to send
    bool queued = false;    // in ready_
  };
  struct Pending {
    uint32_t id = 0;
    ResultPartitionId partition;
    int index = 0;
    int credit = 0;
    Clock::time_point deadline;
  };
  struct Close {
    uint32_t id = 0;
    std::string error;  // sent to the consumer unless empty
  };

  void MarkAvailableLocked(Channel* ch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ch->available = true;
    if (!ch->queued) {
      ch->queued = true;
      ready_.push_back(ch->id);
      cv_.notify_all();
    }
  }

  void Detach(Channel* ch) {
    ch->subpartition->SetListener(nullptr, 0);
    registry_->ReturnSubpartition(ch->partition, ch->index);
  }

  void ReaderMain() {
    writer_ = std::thread([this] { WriterMain(); });
    absl::Status status = ReadLoop();
    spdlog::debug("data connection from {} closed: {}", peer_, status.ToString());
    Shutdown();
    writer_.join();
    // Only this thread is left: release every reader lease.
    std::unique_lock<std::mutex> lock(mu_);
    auto channels = std::move(channels_);
    channels_.clear();
    pending_.clear();
    lock.unlock();
    for (auto& [id, ch] : channels) Detach(ch.get());
    lock.lock();
    ::close(fd_);
    fd_ = -1;
    finished_ = true;
  }

  absl::Status ReadLoop() {
    FrameReader reader(fd_);
    std::string payload;
    while (true) {
      uint8_t type = 0;
      uint32_t length = 0;
      RETURN_IF_ERROR(reader.Next(&type, &length));
      if (length > kMaxControlFrameLength) {
        return absl::DataLossError(absl::StrCat("protocol error: control frame of ", length, " bytes"));
      }
      payload.resize(length);
      RETURN_IF_ERROR(reader.Read(payload.data(), length));
      const char* p = payload.data();
      std::lock_guard<std::mutex> lock(mu_);
      if (type == kPartitionRequest && length >= 24) {
        Pending r;
        r.id = DecodeU32(p);
        r.index = static_cast<int>(DecodeU32(p + 4));
        r.credit = static_cast<int>(DecodeU32(p + 8));
        r.partition.edge_index = static_cast<int>(DecodeU32(p + 12));
        r.partition.producer_subtask = static_cast<int>(DecodeU32(p + 16));
        r.partition.attempt = static_cast<int>(DecodeU32(p + 20));
        r.partition.job_id.assign(p + 24, length - 24);
        r.deadline = Clock::now() + timeout_;
        pending_.push_back(std::move(r));
        pending_dirty_ = true;
        cv_.notify_all();
      } else if (type == kAddCredit && length == 8) {
        auto it = channels_.find(DecodeU32(p));
        if (it == channels_.end()) continue;  // ended or closed meanwhile
        it->second->credit += static_cast<int>(DecodeU32(p + 4));
        MarkAvailableLocked(it->second.get());
      } else if (type == kCloseChannel && length == 4) {
        closes_.push_back({DecodeU32(p), ""});
        cv_.notify_all();
      } else {
        return absl::DataLossError(absl::StrCat("protocol error: unexpected frame type ",
                                                static_cast<int>(type), " of ", length, " bytes"));
      }
    }
  }

  void WriterMain() {
    absl::Status status = WriteLoop();
    if (!status.ok()) {
      spdlog::debug("data connection to {}: {}", peer_, status.ToString());
      Shutdown();  // the reader sees it and cleans up
    }
  }

  // Acquires the partitions that pending requests name; answers those that
  // cannot be served; opens channels for the others.
  void ResolvePending(std::unique_lock<std::mutex>& lock, std::string* out) {
    pending_dirty_ = false;
    std::vector<Pending> pending = std::move(pending_);
    pending_.clear();
    lock.unlock();
    const auto now = Clock::now();
    std::vector<Pending> waiting;
    std::vector<std::unique_ptr<Channel>> opened;
    for (Pending& p : pending) {
      absl::StatusOr<Subpartition*> sub = registry_->AcquireSubpartition(p.partition, p.index);
      if (sub.ok()) {
        auto ch = std::make_unique<Channel>();
        ch->id = p.id;
        ch->key = p.partition.ToString();
        ch->partition = std::move(p.partition);
        ch->index = p.index;
        ch->subpartition = *sub;
        ch->credit = p.credit;
        opened.push_back(std::move(ch));
      } else if (absl::IsNotFound(sub.status()) && now < p.deadline) {
        waiting.push_back(std::move(p));
      } else if (absl::IsNotFound(sub.status())) {
        AppendError(out, p.id,
                    absl::StrCat("result partition ", p.partition.ToString(), " was not registered within ",
                                 timeout_.count(), " ms"));
      } else {
        AppendError(out, p.id, std::string(sub.status().message()));
      }
    }
    lock.lock();
    std::vector<std::pair<uint32_t, Subpartition*>> attach;
    for (auto& ch : opened) {
      if (channels_.count(ch->id) != 0) {  // a consumer bug; keep the first
        lock.unlock();
        registry_->ReturnSubpartition(ch->partition, ch->index);
        AppendError(out, ch->id, absl::StrCat("channel id ", ch->id, " is already in use"));
        lock.lock();
        continue;
      }
      attach.emplace_back(ch->id, ch->subpartition);
      Channel* raw = ch.get();
      channels_[ch->id] = std::move(ch);
      MarkAvailableLocked(raw);  // data may predate the listener
    }
    for (Pending& w : waiting) pending_.push_back(std::move(w));
    next_deadline_ = Clock::time_point::max();
    for (const Pending& w : pending_) next_deadline_ = std::min(next_deadline_, w.deadline);
    lock.unlock();
    for (auto& [id, sub] : attach) sub->SetListener(this, static_cast<int>(id));
    lock.lock();
  }

  // Detaches the channels named by closes_ and released_keys_.
  void ProcessCloses(std::unique_lock<std::mutex>& lock, std::string* out) {
    std::vector<Close> closes = std::move(closes_);
    closes_.clear();
    for (const std::string& key : released_keys_) {
      for (auto& [id, ch] : channels_) {
        if (ch->key == key) {
          closes.push_back({id, absl::StrCat("result partition ", key, " was released by its TaskManager")});
        }
      }
    }
    released_keys_.clear();
    std::vector<std::unique_ptr<Channel>> detached;
    for (const Close& c : closes) {
      pending_.erase(
          std::remove_if(pending_.begin(), pending_.end(), [&](const Pending& p) { return p.id == c.id; }),
          pending_.end());
      auto it = channels_.find(c.id);
      if (it == channels_.end()) continue;
      detached.push_back(std::move(it->second));
      channels_.erase(it);
      if (!c.error.empty()) AppendError(out, c.id, c.error);
    }
    lock.unlock();
    for (auto& ch : detached) Detach(ch.get());
    lock.lock();
  }

  // Sends up to kMaxMessagesPerTurn messages of one channel: buffers while
  // `budget` credits last, events regardless.
  absl::Status Serve(Channel* ch, int budget, std::string* out, int* used, bool* more, bool* ended) {
    for (int i = 0; i < kMaxMessagesPerTurn; ++i) {
      std::string_view data;
      NetworkEvent event;
      Subpartition::PollResult r = ch->subpartition->PollFlushed(&data, &event, *used < budget);
      if (r == Subpartition::PollResult::kNone) return absl::OkStatus();
      if (r == Subpartition::PollResult::kData) {
        ++*used;
        char header[kFrameHeaderSize + 4];
        EncodeU32(header, static_cast<uint32_t>(4 + data.size()));
        header[4] = static_cast<char>(kBufferFrame);
        EncodeU32(header + kFrameHeaderSize, ch->id);
        // Staged small frames first (they precede this buffer), then the
        // buffer straight from the network buffer's memory.
        iovec iov[3] = {{out->data(), out->size()},
                        {header, sizeof(header)},
                        {const_cast<char*>(data.data()), data.size()}};
        RETURN_IF_ERROR(SendAll(fd_, iov, 3));
        out->clear();
        continue;
      }
      AppendEvent(out, ch->id, event);
      if (event.kind == NetworkEvent::kEndOfPartition) {
        *ended = true;
        return absl::OkStatus();
      }
    }
    *more = true;
    return absl::OkStatus();
  }

  absl::Status WriteLoop() {
    std::string out;  // small frames waiting to be sent, in order
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      if (pending_dirty_ || (!pending_.empty() && Clock::now() >= next_deadline_)) {
        ResolvePending(lock, &out);
        continue;
      }
      if (!closes_.empty() || !released_keys_.empty()) {
        ProcessCloses(lock, &out);
        continue;
      }
      if (!ready_.empty()) {
        const uint32_t id = ready_.front();
        ready_.pop_front();
        auto it = channels_.find(id);
        if (it == channels_.end()) continue;
        Channel* ch = it->second.get();
        ch->queued = false;
        if (!ch->available) continue;
        ch->available = false;
        const int budget = ch->credit;  // only grows meanwhile
        lock.unlock();
        int used = 0;
        bool more = false;
        bool ended = false;
        absl::Status status = Serve(ch, budget, &out, &used, &more, &ended);
        if (ended) Detach(ch);
        lock.lock();
        RETURN_IF_ERROR(status);
        ch->credit -= used;
        if (ended) {
          channels_.erase(id);
        } else if (more) {
          MarkAvailableLocked(ch);
        }
        continue;
      }
      if (!out.empty()) {
        lock.unlock();
        absl::Status status = SendString(fd_, out);
        out.clear();
        lock.lock();
        RETURN_IF_ERROR(status);
        continue;
      }
      if (pending_.empty()) {
        cv_.wait(lock);
      } else {
        cv_.wait_until(lock, next_deadline_);
      }
    }
    return absl::OkStatus();
  }

  int fd_;  // closed by the reader thread once the writer has ended
  const std::string peer_;
  PartitionRegistry* const registry_;
  const std::chrono::milliseconds timeout_;
  std::thread reader_;
  std::thread writer_;
  std::atomic<bool> finished_{false};

  std::mutex mu_;
  std::condition_variable cv_;  // wakes the writer
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<uint32_t, std::unique_ptr<Channel>> channels_ ABSL_GUARDED_BY(mu_);
  std::deque<uint32_t> ready_ ABSL_GUARDED_BY(mu_);  // channels that may have something to send
  std::vector<Pending> pending_ ABSL_GUARDED_BY(mu_);
  bool pending_dirty_ ABSL_GUARDED_BY(mu_) = false;
  Clock::time_point next_deadline_ ABSL_GUARDED_BY(mu_) = Clock::time_point::max();
  std::vector<Close> closes_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> released_keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace transport_internal

// ---- DataServer ----

DataServer::DataServer(PartitionRegistry* registry, DataServerOptions options)
    : registry_(registry), options_(std::move(options)) {}

DataServer::~DataServer() { Stop(); }

absl::Status DataServer::Start() {
  const std::string where = absl::StrCat(options_.bind_address, ":", options_.port);
  auto fail = [&](const std::string& reason) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for data connections on ", where, ": ", reason));
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* result = nullptr;
  const std::string port = std::to_string(options_.port);
  const char* host = options_.bind_address.empty() ? nullptr : options_.bind_address.c_str();
  if (int rc = ::getaddrinfo(host, port.c_str(), &hints, &result); rc != 0) return fail(::gai_strerror(rc));
  std::string reason = "no address";
  for (addrinfo* ai = result; ai != nullptr && listen_fd_ < 0; ai = ai->ai_next) {
    int s = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (s < 0) {
      reason = ErrnoText(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(s, ai->ai_addr, ai->ai_addrlen) < 0 || ::listen(s, 128) < 0) {
      reason = ErrnoText(errno);
      ::close(s);
      continue;
    }
    listen_fd_ = s;
  }
  ::freeaddrinfo(result);
  if (listen_fd_ < 0) return fail(reason);
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  if (::pipe2(wake_pipe_, O_CLOEXEC) < 0) {
    reason = ErrnoText(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    return fail(reason);
  }
  registry_->AddListener(this);
  listening_ = true;
  acceptor_ = std::thread([this] { AcceptLoop(); });
  spdlog::debug("data server listening on {}:{}", options_.bind_address, port_);
  return absl::OkStatus();
}

void DataServer::AcceptLoop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("data server: poll failed: {}", ErrnoText(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC);
    if (fd < 0) continue;  // e.g. the peer gave up already; EMFILE is retried on the next poll
    SetNoDelay(fd);
    char host[NI_MAXHOST] = "?";
    char serv[NI_MAXSERV] = "?";
    ::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof(host), serv, sizeof(serv),
                  NI_NUMERICHOST | NI_NUMERICSERV);
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) {
      ::close(fd);
      return;
    }
    ReapFinishedLocked();
    auto conn = std::make_unique<transport_internal::ServerConnection>(
        fd, absl::StrCat(host, ":", serv), registry_, options_.partition_request_timeout);
    conn->Start();
    connections_.push_back(std::move(conn));
  }
}

void DataServer::ReapFinishedLocked() {
  std::erase_if(connections_, [](const auto& c) { return c->finished(); });  // joins in the destructor
}

int DataServer::num_connections() {
  std::lock_guard<std::mutex> lock(mu_);
  ReapFinishedLocked();
  return static_cast<int>(connections_.size());
}

void DataServer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  if (listening_) registry_->RemoveListener(this);
  if (acceptor_.joinable()) {
    char b = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_pipe_[1], &b, 1);
    acceptor_.join();
  }
  for (int* fd : {&listen_fd_, &wake_pipe_[0], &wake_pipe_[1]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  std::vector<std::unique_ptr<transport_internal::ServerConnection>> connections;
  {
    std::lock_guard<std::mutex> lock(mu_);
    connections = std::move(connections_);
    connections_.clear();
  }
  for (auto& c : connections) c->Shutdown();
  for (auto& c : connections) c->Join();
}

void DataServer::OnRegistered(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : connections_) c->OnRegistered();
}

void DataServer::OnReleased(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : connections_) c->OnReleased(key);
}

// ---- Consumer side: one connection to a remote DataServer ----

namespace transport_internal {

// The reader thread delivers received frames to channels (with mu_ held, so a
// channel being destroyed waits for a delivery in progress); the writer thread
// sends requests, closes and returned credits, coalesced.
class ClientConnection {
 public:
  ClientConnection(int fd, std::string address) : fd_(fd), address_(std::move(address)) {
    reader_ = std::thread([this] { ReaderMain(); });
    writer_ = std::thread([this] { WriterMain(); });
  }
  ~ClientConnection() { Close("connection manager shut down"); }

  const std::string& address() const { return address_; }
  bool broken() {
    std::lock_guard<std::mutex> lock(mu_);
    return broken_;
  }

  uint32_t NextChannelId() { return next_channel_id_.fetch_add(1); }

  // Registers `channel` and sends its PartitionRequest.
  void Open(RemoteInputChannel* channel, int credit) {
    std::lock_guard<std::mutex> lock(mu_);
    if (broken_) {
      channel->Fail(LostStatus());
      return;
    }
    channels_[channel->id_] = channel;
    AppendPartitionRequest(&out_, channel->id_, channel->partition_, channel->subpartition_, credit);
    cv_.notify_all();
  }

  // The consumer freed `n` buffers of channel `id`.
  void AddCredit(uint32_t id, uint32_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    if (broken_ || channels_.count(id) == 0) return;
    uint32_t& c = credits_[id];
    if (c == 0) credit_order_.push_back(id);
    c += n;
    cv_.notify_all();
  }

  // The channel is being destroyed: no more deliveries; tell the producer.
  void Remove(uint32_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    if (channels_.erase(id) == 0 || broken_) return;
    credits_.erase(id);
    AppendChannelControl(&out_, kCloseChannel, id);
    cv_.notify_all();
  }

  // Fails the channels (unless already failed), ends both threads, closes the socket.
  void Close(const std::string& reason) {
    Break(absl::UnavailableError(reason));
    std::lock_guard<std::mutex> lock(close_mu_);
    if (reader_.joinable()) reader_.join();
    if (writer_.joinable()) writer_.join();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  absl::Status LostStatus() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return absl::UnavailableError(
        absl::StrCat("connection to TaskManager ", address_, " lost: ", break_reason_.message()));
  }

  void Break(absl::Status reason) {
    std::lock_guard<std::mutex> lock(mu_);
    if (broken_) return;
    broken_ = true;
    break_reason_ = std::move(reason);
    spdlog::debug("{}", std::string(LostStatus().message()));
    for (auto& [id, ch] : channels_) ch->Fail(LostStatus());
    channels_.clear();
    credits_.clear();
    credit_order_.clear();
    ::shutdown(fd_, SHUT_RDWR);  // fd_ stays open until both threads are joined
    cv_.notify_all();
  }

  void ReaderMain() { Break(ReadLoop()); }

  absl::Status ReadLoop() {
    FrameReader reader(fd_);
    char head[13];
    while (true) {
      uint8_t type = 0;
      uint32_t length = 0;
      RETURN_IF_ERROR(reader.Next(&type, &length));
      if (length < 4) return absl::DataLossError("protocol error: frame without a channel id");
      RETURN_IF_ERROR(reader.Read(head, 4));
      const uint32_t id = DecodeU32(head);
      RemoteInputChannel::Item item;
      if (type == kBufferFrame) {
        item.size = length - 4;
        item.data = std::make_unique_for_overwrite<char[]>(item.size);
        RETURN_IF_ERROR(reader.Read(item.data.get(), item.size));
        std::lock_guard<std::mutex> lock(mu_);
        auto it = channels_.find(id);
        if (it != channels_.end()) it->second->Deliver(std::move(item));
      } else if (type == kEventFrame && length >= 13 && length <= 13 + kMaxControlFrameLength) {
        RETURN_IF_ERROR(reader.Read(head + 4, 9));
        item.event.kind = static_cast<NetworkEvent::Kind>(head[4]);
        item.event.value = static_cast<int64_t>(DecodeU64(head + 5));
        item.event.payload.resize(length - 13);
        RETURN_IF_ERROR(reader.Read(item.event.payload.data(), item.event.payload.size()));
        std::lock_guard<std::mutex> lock(mu_);
        auto it = channels_.find(id);
        if (it == channels_.end()) continue;
        const bool ended = item.event.kind == NetworkEvent::kEndOfPartition;
        it->second->Deliver(std::move(item));
        if (ended) {  // the producer forgot the channel; nothing more will come
          channels_.erase(it);
          credits_.erase(id);
        }
      } else if (type == kErrorFrame && length <= kMaxControlFrameLength) {
        std::string message(length - 4, '\0');
        RETURN_IF_ERROR(reader.Read(message.data(), message.size()));
        std::lock_guard<std::mutex> lock(mu_);
        auto it = channels_.find(id);
        if (it == channels_.end()) continue;
        RemoteInputChannel* ch = it->second;
        ch->Fail(absl::FailedPreconditionError(
            absl::StrCat("reading subpartition ", ch->subpartition_, " of result partition ",
                         ch->partition_.ToString(), " from TaskManager ", address_, " failed: ", message)));
        channels_.erase(it);
        credits_.erase(id);
      } else {
        return absl::DataLossError(absl::StrCat("protocol error: unexpected frame type ",
                                                static_cast<int>(type), " of ", length, " bytes"));
      }
    }
  }

  void WriterMain() {
    std::string batch;
    std::unique_lock<std::mutex> lock(mu_);
    while (!broken_) {
      if (out_.empty() && credit_order_.empty()) {
        cv_.wait(lock);
        continue;
      }
      batch.swap(out_);
      for (uint32_t id : credit_order_) AppendAddCredit(&batch, id, credits_[id]);
      credits_.clear();
      credit_order_.clear();
      lock.unlock();
      absl::Status status = SendString(fd_, batch);
      batch.clear();
      if (!status.ok()) {
        Break(status);
        return;
      }
      lock.lock();
    }
  }

  int fd_;
  const std::string address_;
  std::atomic<uint32_t> next_channel_id_{1};
  std::mutex close_mu_;  // serializes Close()
  std::thread reader_;
  std::thread writer_;

  std::mutex mu_;
  std::condition_variable cv_;  // wakes the writer
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status break_reason_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint32_t, RemoteInputChannel*> channels_ ABSL_GUARDED_BY(mu_);
  std::string out_ ABSL_GUARDED_BY(mu_);                                  // requests and closes, in order
  absl::flat_hash_map<uint32_t, uint32_t> credits_ ABSL_GUARDED_BY(mu_);  // not yet announced
  std::vector<uint32_t> credit_order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace transport_internal

// ---- RemoteInputChannel ----

RemoteInputChannel::RemoteInputChannel(std::shared_ptr<transport_internal::ClientConnection> connection,
                                       uint32_t id, std::string address, ResultPartitionId partition,
                                       int subpartition)
    : connection_(std::move(connection)),
      id_(id),
      address_(std::move(address)),
      partition_(std::move(partition)),
      subpartition_(subpartition) {}

RemoteInputChannel::~RemoteInputChannel() { connection_->Remove(id_); }

Subpartition::PollResult RemoteInputChannel::Poll(std::string_view* data, NetworkEvent* event) {
  const bool consumed = handed_out_ != nullptr;
  handed_out_.reset();
  bool return_credit = false;
  Subpartition::PollResult result = Subpartition::PollResult::kNone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    return_credit = consumed && !ended_ && failure_.ok();
    if (!queue_.empty()) {
      Item& item = queue_.front();
      if (item.data != nullptr) {
        handed_out_ = std::move(item.data);
        *data = std::string_view(handed_out_.get(), item.size);
        --queued_buffers_;
        result = Subpartition::PollResult::kData;
      } else {
        *event = item.event;
        result = Subpartition::PollResult::kEvent;
      }
      queue_.pop_front();
    } else if (!failure_.ok() && !ended_) {
      result = Subpartition::PollResult::kError;
    }
  }
  if (return_credit) connection_->AddCredit(id_, 1);
  return result;
}

void RemoteInputChannel::SetListener(AvailabilityListener* listener, int channel) {
  std::lock_guard<std::mutex> lock(mu_);
  listener_ = listener;
  listener_channel_ = channel;
  if (listener_ != nullptr && (!queue_.empty() || !failure_.ok())) listener_->NotifyDataAvailable(channel);
}

absl::Status RemoteInputChannel::failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

int RemoteInputChannel::queued_buffers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_buffers_;
}

int RemoteInputChannel::max_queued_buffers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return max_queued_buffers_;
}

void RemoteInputChannel::Deliver(Item item) {
  std::lock_guard<std::mutex> lock(mu_);
  if (item.data != nullptr) {
    max_queued_buffers_ = std::max(max_queued_buffers_, ++queued_buffers_);
  } else if (item.event.kind == NetworkEvent::kEndOfPartition) {
    ended_ = true;
  }
  queue_.push_back(std::move(item));
  if (listener_ != nullptr) listener_->NotifyDataAvailable(listener_channel_);
}

void RemoteInputChannel::Fail(absl::Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ended_ || !failure_.ok()) return;
  failure_ = std::move(status);
  if (listener_ != nullptr) listener_->NotifyDataAvailable(listener_channel_);
}

// ---- ConnectionManager ----

ConnectionManager::ConnectionManager(ConnectionManagerOptions options) : options_(std::move(options)) {}

ConnectionManager::~ConnectionManager() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [address, connection] : connections_) connection->Close("connection manager shut down");
  connections_.clear();
}

absl::StatusOr<std::unique_ptr<RemoteInputChannel>> ConnectionManager::CreateInputChannel(
    const std::string& address, const ResultPartitionId& partition, int subpartition) {
  std::shared_ptr<transport_internal::ClientConnection> connection;
  {
    // Connecting under the lock keeps one connection per address.
    std::lock_guard<std::mutex> lock(mu_);
    auto it = connections_.find(address);
    if (it != connections_.end() && !it->second->broken()) {
      connection = it->second;
    } else {
      ASSIGN_OR_RETURN(int fd, Connect(address, options_.connect_timeout));
      connection = std::make_shared<transport_internal::ClientConnection>(fd, address);
      connections_[address] = connection;  // a broken predecessor lives on with its channels
    }
  }
  const uint32_t id = connection->NextChannelId();
  std::unique_ptr<RemoteInputChannel> channel(
      new RemoteInputChannel(connection, id, address, partition, subpartition));
  connection->Open(channel.get(), options_.initial_credit);
  return channel;
}

}  // namespace eddy::runtime
