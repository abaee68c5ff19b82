// The TCP half of the network stack: how records cross between TaskManager
// processes, with credit-based flow control per logical channel as in Flink.
//
//   producer TaskManager                         consumer TaskManager
//   ResultPartition ─▶ PartitionRegistry         InputGate
//                        ▲                         ▲ RemoteInputChannel ×n
//   DataServer (listens) ┘ ◀══ one TCP connection ══ ConnectionManager
//                              per TaskManager pair,
//                              many logical channels
//
// Each TaskManager has one PartitionRegistry (partitions its tasks produce), one
// DataServer (serves those partitions to other TaskManagers) and one
// ConnectionManager (reads partitions of other TaskManagers). A consumer opens a
// logical channel with a PartitionRequest naming the partition, subpartition
// and an initial credit. The server sends a Buffer message only while the
// channel has credit; each costs one credit, and the consumer returns it when
// its task has consumed the buffer. Events (watermarks, end-of-partition) travel
// in order with the buffers and cost no credit. So the receiving side always has
// room for what arrives and its reader thread never waits for a task: a slow
// task backpressures only its own producers, never the shared connection.
//
// Wire format (all integers little-endian): frames of u32 length (of what
// follows the type byte), u8 type, payload:
//   consumer ▶ producer  PartitionRequest  u32 channel, u32 subpartition,
//                                          u32 initial credit, u32 edge index,
//                                          u32 producer subtask, job id bytes
//                        AddCredit         u32 channel, u32 credits
//                        CloseChannel      u32 channel
//   producer ▶ consumer  Buffer            u32 channel, bytes
//                        Event             u32 channel, u8 kind, i64 value
//                        Error             u32 channel, message bytes
// Channel ids are chosen by the consumer and unique per connection.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "taskmanager/network.h"

namespace eddy::runtime {

// Names the output of one producer subtask on one job edge, cluster-wide.
struct ResultPartitionId {
  std::string job_id;
  int edge_index = 0;
  int producer_subtask = 0;
  int attempt = 0;  // the job's restart count: partitions of earlier attempts never match

  // "<job_id>/<edge_index>/<producer_subtask>/<attempt>": the registry's map key and
  // what error messages show.
  std::string ToString() const;
  friend bool operator==(const ResultPartitionId&, const ResultPartitionId&) = default;
};

// The result partitions of one TaskManager that other TaskManagers may read.
// Thread-safe.
class PartitionRegistry {
 public:
  PartitionRegistry() = default;
  ~PartitionRegistry();
  PartitionRegistry(const PartitionRegistry&) = delete;
  PartitionRegistry& operator=(const PartitionRegistry&) = delete;

  // Makes `partition` (owned by the caller) readable under `id`. AlreadyExists
  // if `id` is registered (or still being released).
  absl::Status Register(const ResultPartitionId& id, ResultPartition* partition);
  // Withdraws `id`. Remote readers still reading it are detached (their
  // consumers fail with "released"); when this returns nothing in the transport
  // touches the partition any more, so the caller may destroy it. No-op for an
  // unknown id.
  void Unregister(const ResultPartitionId& id);
  // Unregister() for every partition of `job_id`.
  void Release(const std::string& job_id);
  // The partition registered under `id`, waiting until `deadline` for it to be
  // registered (consumers may ask before their producers are deployed); null on
  // timeout. The pointer is only as stable as the caller's knowledge that the
  // partition is not unregistered meanwhile.
  ResultPartition* WaitFor(const ResultPartitionId& id, std::chrono::steady_clock::time_point deadline);

  // ---- for the DataServer ----

  // Told (without registry locks held) about registrations and releases.
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void OnRegistered(const std::string& key) = 0;
    // `key` is being unregistered: detach its readers (ReturnSubpartition).
    virtual void OnReleased(const std::string& key) = 0;
  };
  void AddListener(Listener* listener);
  // When this returns, `listener` is not being called and will not be.
  void RemoveListener(Listener* listener);

  // Leases subpartition `index` of `id` to one reader: it stays valid until
  // ReturnSubpartition. NotFound if `id` is not registered (yet);
  // InvalidArgument for a bad index; FailedPrecondition if it already has a reader.
  absl::StatusOr<Subpartition*> AcquireSubpartition(const ResultPartitionId& id, int index);
  // Ends a lease taken by AcquireSubpartition (the reader has detached).
  void ReturnSubpartition(const ResultPartitionId& id, int index);

 private:
  struct Entry {
    ResultPartitionId id;
    ResultPartition* partition = nullptr;
    std::vector<bool> leased;  // per subpartition
    int leases = 0;
    bool released = false;  // being unregistered: no new leases
  };
  void UnregisterKeys(const std::vector<std::string>& keys);

  std::mutex mu_;
  std::condition_variable cv_;  // registrations and returned leases
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);

  std::mutex listeners_mu_;  // held while listeners are called
  std::vector<Listener*> listeners_ ABSL_GUARDED_BY(listeners_mu_);
};

namespace transport_internal {
class ServerConnection;
class ClientConnection;
}  // namespace transport_internal

struct DataServerOptions {
  std::string bind_address = "0.0.0.0";
  int port = 0;  // 0: any free port (see DataServer::port())
  // How long a PartitionRequest waits for its partition to be registered
  // before the consumer gets an error.
  std::chrono::milliseconds partition_request_timeout{10000};
};

// Serves a TaskManager's registered partitions to other TaskManagers over TCP:
// one acceptor thread, and a reader and a writer thread per connection. The
// writer is the reader of the subpartitions its connection's channels name: it
// sends whatever channels have both data and credit, round-robin. A channel is
// detached (its lease returned) once it has sent end-of-partition, when the
// consumer closes it, when the partition is unregistered, or when the
// connection breaks. The registry must outlive the server.
class DataServer final : public PartitionRegistry::Listener {
 public:
  DataServer(PartitionRegistry* registry, DataServerOptions options);
  ~DataServer() override;  // Stop()
  DataServer(const DataServer&) = delete;
  DataServer& operator=(const DataServer&) = delete;

  // Binds, listens and starts accepting. The error names address:port.
  absl::Status Start();
  // Closes the listener and every connection (consumers see the connection
  // lost), detaches from all subpartitions and joins all threads. Idempotent.
  void Stop();
  // The bound port (after a successful Start()).
  int port() const { return port_; }
  int num_connections();  // open connections (for tests and metrics)

  // PartitionRegistry::Listener: retries waiting requests; detaches readers.
  void OnRegistered(const std::string& key) override;
  void OnReleased(const std::string& key) override;

 private:
  void AcceptLoop();
  void ReapFinishedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  PartitionRegistry* registry_;
  const DataServerOptions options_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};  // wakes the acceptor on Stop()
  int port_ = 0;
  bool listening_ = false;  // registered as a registry listener
  std::thread acceptor_;
  std::mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::unique_ptr<transport_internal::ServerConnection>> connections_ ABSL_GUARDED_BY(mu_);
};

// A channel reading one subpartition of another TaskManager over TCP. Created by
// ConnectionManager; used by one task thread; may outlive the manager (it then
// reports kError). Destroying it tells the producer to stop sending.
class RemoteInputChannel final : public InputChannel {
 public:
  ~RemoteInputChannel() override;
  // Returns the next received buffer (valid until the next Poll, which returns
  // its credit to the producer) or event; after a failure, kError once the
  // data received before it has been polled. A channel that saw
  // end-of-partition never fails.
  Subpartition::PollResult Poll(std::string_view* data, NetworkEvent* event) override;
  void SetListener(AvailabilityListener* listener, int channel) override;
  absl::Status failure() const override;

  const std::string& remote_address() const { return address_; }
  const ResultPartitionId& partition_id() const { return partition_; }
  int subpartition() const { return subpartition_; }
  // Buffers received and not yet polled, and the most there ever were: never
  // more than the credit granted.
  int queued_buffers() const;
  int max_queued_buffers() const;

 private:
  friend class ConnectionManager;
  friend class transport_internal::ClientConnection;
  struct Item {
    std::unique_ptr<char[]> data;  // null for events
    uint32_t size = 0;
    NetworkEvent event;
  };
  RemoteInputChannel(std::shared_ptr<transport_internal::ClientConnection> connection, uint32_t id,
                     std::string address, ResultPartitionId partition, int subpartition);
  // Called by the connection's reader thread, with the connection's lock held.
  void Deliver(Item item);
  void Fail(absl::Status status);

  const std::shared_ptr<transport_internal::ClientConnection> connection_;
  const uint32_t id_;
  const std::string address_;
  const ResultPartitionId partition_;
  const int subpartition_;

  mutable std::mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  int queued_buffers_ ABSL_GUARDED_BY(mu_) = 0;
  int max_queued_buffers_ ABSL_GUARDED_BY(mu_) = 0;
  AvailabilityListener* listener_ ABSL_GUARDED_BY(mu_) = nullptr;
  int listener_channel_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;  // end-of-partition received
  // The bytes the last Poll handed out; freed (and credited) on the next Poll.
  std::unique_ptr<char[]> handed_out_;
};

struct ConnectionManagerOptions {
  // Buffers a consumer may have in flight or queued per channel (Flink's
  // exclusive buffers plus a few floating ones). Bounds receiver memory at
  // initial_credit × segment size per remote channel.
  int initial_credit = 4;
  std::chrono::milliseconds connect_timeout{10000};
};

// The consumer side of a TaskManager's data plane: one TCP connection per
// remote TaskManager data address, shared by all channels reading from it, each
// with a reader and a writer thread. Thread-safe.
class ConnectionManager {
 public:
  explicit ConnectionManager(ConnectionManagerOptions options = {});
  // Closes every connection and joins its threads; channels still alive fail
  // ("connection ... lost: connection manager shut down").
  ~ConnectionManager();
  ConnectionManager(const ConnectionManager&) = delete;
  ConnectionManager& operator=(const ConnectionManager&) = delete;

  // Opens a logical channel reading `subpartition` of `partition` from the
  // TaskManager whose DataServer listens at `address` ("host:port"), connecting
  // first if needed. Unavailable naming the address if it cannot connect.
  absl::StatusOr<std::unique_ptr<RemoteInputChannel>> CreateInputChannel(const std::string& address,
                                                                         const ResultPartitionId& partition,
                                                                         int subpartition);

 private:
  const ConnectionManagerOptions options_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<transport_internal::ClientConnection>> connections_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace eddy::runtime
