// CheckpointCoordinator (see checkpoint_coordinator.h).
#include "jobmanager/checkpoint_coordinator.h"

#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "checkpoint/snapshot_file.h"
#include "checkpoint/storage.h"
#include "common/config_options.h"
#include "common/process.h"
#include "spdlog/spdlog.h"

namespace eddy::jobmanager {

absl::StatusOr<CheckpointSettings> CheckpointSettings::FromConfig(const Configuration& config) {
  CheckpointSettings s;
  auto interval = config.GetOptionalDuration(kCheckpointingInterval.key);
  if (!interval.ok()) return interval.status();
  s.enabled = interval->has_value() && (*interval)->count() > 0;
  if (s.enabled) s.interval = **interval;
  auto timeout = config.GetDuration(kCheckpointingTimeout);
  if (!timeout.ok()) return timeout.status();
  s.timeout = *timeout;
  auto pause = config.GetDuration(kCheckpointingMinPause);
  if (!pause.ok()) return pause.status();
  s.min_pause = *pause;
  auto mode = config.GetEnum(kCheckpointingMode, {"EXACTLY_ONCE", "AT_LEAST_ONCE"});
  if (!mode.ok()) return mode.status();
  s.exactly_once = *mode == "EXACTLY_ONCE";
  auto tolerable = config.GetInt(kCheckpointingTolerableFailures);
  if (!tolerable.ok()) return tolerable.status();
  s.tolerable_failures = static_cast<int>(*tolerable);
  auto retained = config.GetInt(kCheckpointsNumRetained);
  if (!retained.ok()) return retained.status();
  if (*retained < 1) {
    return absl::InvalidArgumentError(absl::StrCat("state.checkpoints.num-retained must be at least 1, got ", *retained));
  }
  s.num_retained = static_cast<int>(*retained);
  auto retention = config.GetEnum(kCheckpointingRetention, {"DELETE_ON_CANCELLATION", "RETAIN_ON_CANCELLATION"});
  if (!retention.ok()) return retention.status();
  s.retain_on_cancellation = *retention == "RETAIN_ON_CANCELLATION";
  if (auto dir = config.GetRaw(kCheckpointsDir.key); dir && !dir->empty()) {
    auto resolved = checkpoint::ResolvePath(*dir, kCheckpointsDir.key);
    if (!resolved.ok()) return resolved.status();
    s.checkpoints_dir = *resolved;
  }
  if (auto dir = config.GetRaw(kSavepointsDir.key); dir && !dir->empty()) {
    auto resolved = checkpoint::ResolvePath(*dir, kSavepointsDir.key);
    if (!resolved.ok()) return resolved.status();
    s.savepoints_dir = *resolved;
  }
  if (s.enabled && s.checkpoints_dir.empty()) {
    return absl::InvalidArgumentError(
        "execution.checkpointing.interval is set but state.checkpoints.dir is not: set it to a directory "
        "(file:// URI or path) that the JobManager and every TaskManager can read and write");
  }
  return s;
}

CheckpointCoordinator::CheckpointCoordinator(proto::JobGraph job, CheckpointSettings settings, Hooks hooks)
    : job_(std::move(job)), settings_(std::move(settings)), hooks_(std::move(hooks)) {
  std::map<std::string, int> index;
  for (int v = 0; v < job_.vertices_size(); ++v) index[job_.vertices(v).id()] = v;
  upstream_.resize(static_cast<size_t>(job_.vertices_size()));
  for (const auto& e : job_.edges()) {
    upstream_[static_cast<size_t>(index[e.target_vertex()])].push_back(index[e.source_vertex()]);
  }
}

bool CheckpointCoordinator::SelectTargets(std::vector<Target>* trigger, std::vector<Target>* ack) {
  std::vector<TaskStatus> tasks;
  if (!hooks_.tasks(&tasks)) return false;
  std::vector<bool> vertex_finished(upstream_.size(), true);
  for (const TaskStatus& t : tasks) {
    if (t.state != TaskState::kFinished) vertex_finished[static_cast<size_t>(t.target.vertex)] = false;
  }
  for (const TaskStatus& t : tasks) {
    if (t.state == TaskState::kFinished) continue;
    if (t.state != TaskState::kRunning) return false;  // not every task is up yet
    ack->push_back(t.target);
    bool upstream_done = true;  // sources have no upstream
    for (int u : upstream_[static_cast<size_t>(t.target.vertex)]) upstream_done &= vertex_finished[static_cast<size_t>(u)];
    if (upstream_done) trigger->push_back(t.target);
  }
  return true;
}

CheckpointCoordinator::~CheckpointCoordinator() { Stop(); }

void CheckpointCoordinator::Start(int64_t last_id) {
  std::lock_guard<std::mutex> lock(mu_);
  next_id_ = std::max(next_id_, last_id + 1);
  last_end_ = std::chrono::steady_clock::now();
  if (running_) return;
  running_ = true;
  if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
  cv_.notify_all();
}

void CheckpointCoordinator::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = false;
    FailPendingLocked("the job stopped taking checkpoints", false);
    for (auto& r : savepoint_requests_) r.done(absl::FailedPreconditionError("the job stopped"));
    savepoint_requests_.clear();
    thread_stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CheckpointCoordinator::AbortPending(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  running_ = false;
  FailPendingLocked(why, false);
  finished_.clear();
  last_acks_.clear();
  attempt_slot_.clear();
}

int64_t CheckpointCoordinator::last_id() {
  std::lock_guard<std::mutex> lock(mu_);
  return next_id_ - 1;
}

std::string CheckpointCoordinator::LatestCompleted() {
  std::lock_guard<std::mutex> lock(mu_);
  return latest_completed_;
}

void CheckpointCoordinator::TriggerSavepoint(const std::string& target_dir, bool stop, bool drain,
                                             SavepointCallback done) {
  std::string dir = target_dir.empty() ? settings_.savepoints_dir : target_dir;
  if (dir.empty()) {
    done(absl::InvalidArgumentError(
        "no savepoint directory: give one (eddy savepoint <jobId> <dir>) or set state.savepoints.dir"));
    return;
  }
  auto resolved = checkpoint::ResolvePath(dir, "the savepoint directory");
  if (!resolved.ok()) {
    done(resolved.status());
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (thread_stop_) {
      done(absl::FailedPreconditionError("the job is not running"));
      return;
    }
    savepoint_requests_.push_back({*resolved, stop, drain, std::move(done)});
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
  }
  cv_.notify_all();
}

void CheckpointCoordinator::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!thread_stop_) {
    if (!deferred_failure_.empty()) {
      std::string why = std::move(deferred_failure_);
      deferred_failure_.clear();
      lock.unlock();
      if (hooks_.fail_job) hooks_.fail_job(why);
      lock.lock();
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    if (pending_ && now - pending_->started > settings_.timeout) {
      spdlog::warn("Checkpoint {} of job {} expired after {} ms", pending_->id, job_.job_id(),
                   settings_.timeout.count());
      FailPendingLocked(absl::StrCat("checkpoint expired before completing (execution.checkpointing.timeout ",
                                     settings_.timeout.count(), " ms)"),
                        true);
      continue;
    }
    if (!pending_ && !savepoint_requests_.empty()) {
      SavepointRequest r = std::move(savepoint_requests_.front());
      savepoint_requests_.erase(savepoint_requests_.begin());
      TriggerLocked(true, r.dir, r.stop, r.drain, std::move(r.done));
      continue;
    }
    auto due = std::chrono::steady_clock::time_point::max();
    if (running_ && settings_.enabled && !pending_) {
      due = last_end_ + std::max(settings_.interval, settings_.min_pause);
      if (due <= now) {
        TriggerLocked(false, "", false, false, nullptr);
        last_end_ = std::chrono::steady_clock::now();  // a failed trigger waits a full interval
        continue;
      }
    }
    if (pending_) due = std::min(due, pending_->started + settings_.timeout);
    if (due == std::chrono::steady_clock::time_point::max()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, due);
    }
  }
}

void CheckpointCoordinator::TriggerLocked(bool savepoint, const std::string& dir, bool stop, bool drain,
                                          SavepointCallback done) {
  std::vector<Target> trigger, ack;
  if (!SelectTargets(&trigger, &ack) || trigger.empty()) {
    if (done) done(absl::FailedPreconditionError("the job is not running, or all its tasks finished"));
    return;
  }
  Pending p;
  p.id = next_id_++;
  p.timestamp = EpochMillis();
  p.started = std::chrono::steady_clock::now();
  p.savepoint = savepoint;
  p.directory = savepoint ? checkpoint::NewSavepointDirectory(dir, job_.job_id())
                          : checkpoint::CheckpointDirectory(settings_.checkpoints_dir, job_.job_id(), p.id);
  p.done = std::move(done);
  for (const Target& t : ack) {
    p.awaiting.insert(t.attempt_id);
    p.targets[t.attempt_id] = t;
    attempt_slot_[t.attempt_id] = {t.vertex, t.subtask};
  }
  stats_.triggered++;
  RecordLocked({p.id, "IN_PROGRESS", savepoint, p.timestamp, 0, 0, 0, static_cast<int>(ack.size()), p.directory, ""});
  spdlog::info("Triggering {} {} of job {} at {} task(s) ({})", savepoint ? "savepoint" : "checkpoint", p.id,
               job_.job_id(), trigger.size(), p.directory);
  const int64_t id = p.id, ts = p.timestamp;
  const std::string directory = p.directory;
  pending_ = std::move(p);
  for (const Target& t : trigger) hooks_.trigger(t, id, ts, directory, savepoint, stop, drain);
}

void CheckpointCoordinator::Acknowledge(const std::string& attempt_id, int64_t id, TaskAck ack) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!pending_ || pending_->id != id || !pending_->awaiting.erase(attempt_id)) return;  // late or unknown
  pending_->acks[attempt_id] = std::move(ack);
  pending_->latest_ack = EpochMillis();
  if (pending_->awaiting.empty()) CompleteLocked();
}

void CheckpointCoordinator::Decline(const std::string& attempt_id, int64_t id, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!pending_ || pending_->id != id) return;
  spdlog::warn("Checkpoint {} of job {} declined: {}", id, job_.job_id(), reason);
  FailPendingLocked(reason, true);
}

void CheckpointCoordinator::OnTaskFinished(const std::string& attempt_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto slot = attempt_slot_.find(attempt_id);
  if (slot == attempt_slot_.end()) return;
  auto last = last_acks_.find(slot->second);
  if (last != last_acks_.end()) finished_[slot->second] = last->second;
}

void CheckpointCoordinator::CompleteLocked() {
  Pending p = *std::move(pending_);
  pending_.reset();
  cv_.notify_all();  // the loop waits for the next trigger time
  namespace fs = std::filesystem;
  // Tasks that finished earlier are represented by the state they left;
  // their files are copied so that every checkpoint is self-contained.
  std::map<std::pair<int, int>, TaskAck> all;
  for (auto& [attempt, ack] : p.acks) {
    const Target& t = p.targets[attempt];
    all[{t.vertex, t.subtask}] = ack;
    last_acks_[{t.vertex, t.subtask}] = {ack, p.directory};
  }
  std::string failure;
  for (auto& [slot, entry] : finished_) {
    if (all.count(slot)) continue;
    TaskAck copy = entry.first;
    for (auto& op : copy.operators) {
      const std::string from = checkpoint::HandlePath(entry.second, op.state);
      const std::string name = fs::path(op.state.file()).filename().string();
      std::error_code ec;
      fs::create_directories(p.directory, ec);
      fs::copy_file(from, fs::path(p.directory) / name, fs::copy_options::overwrite_existing, ec);
      if (ec) failure = absl::StrCat("cannot copy the state of a finished task from ", from, ": ", ec.message());
      op.state.set_file(name);
      for (const auto& rel : op.state.private_files()) {  // shared files stay where they are
        fs::create_directories((fs::path(p.directory) / rel).parent_path(), ec);
        fs::copy_file(fs::path(entry.second) / rel, fs::path(p.directory) / rel, fs::copy_options::overwrite_existing,
                      ec);
        if (ec) failure = absl::StrCat("cannot copy the state of a finished task: ", ec.message());
      }
    }
    all[slot] = copy;
    entry = {copy, p.directory};  // the older directory may be deleted below
  }
  // _metadata: the handles grouped by operator uid.
  proto::CheckpointMetadata metadata;
  metadata.set_version(checkpoint::kMetadataVersion);
  metadata.set_checkpoint_id(p.id);
  metadata.set_job_id(job_.job_id());
  metadata.set_job_name(job_.job_name());
  metadata.set_trigger_timestamp(p.timestamp);
  metadata.set_savepoint(p.savepoint);
  std::map<std::string, proto::OperatorStateHandles*> by_uid;
  int64_t size = 0, uploaded = 0;
  for (auto& [slot, ack] : all) {
    const proto::JobVertex& vertex = job_.vertices(slot.first);
    for (auto& op : ack.operators) {
      proto::OperatorStateHandles*& handles = by_uid[op.uid];
      if (handles == nullptr) {
        handles = metadata.add_operators();
        handles->set_uid(op.uid);
        handles->set_name(op.name);
        handles->set_vertex_id(vertex.id());
        handles->set_parallelism(vertex.parallelism());
        handles->set_max_parallelism(vertex.max_parallelism());
      }
      size += op.state.state_size();
      if (p.acks.size() > 0) uploaded += op.state.incremental_size() > 0 ? op.state.incremental_size() : op.state.state_size();
      *handles->add_subtasks() = op.state;
    }
  }
  if (failure.empty()) {
    absl::Status written = checkpoint::WriteMetadata(p.directory, metadata);
    if (!written.ok()) failure = std::string(written.message());
  }
  if (!failure.empty()) {
    pending_ = std::move(p);
    FailPendingLocked(failure, true);
    return;
  }
  consecutive_failures_ = 0;
  last_end_ = std::chrono::steady_clock::now();
  stats_.completed++;
  RecordLocked({p.id, "COMPLETED", p.savepoint, p.timestamp, p.latest_ack, size, static_cast<int>(p.acks.size()),
                static_cast<int>(p.targets.size()), p.directory, ""});
  spdlog::info("Completed {} {} of job {} ({} bytes, {} bytes written) in {} ms",
               p.savepoint ? "savepoint" : "checkpoint", p.id, job_.job_id(), size, uploaded,
               EpochMillis() - p.timestamp);
  if (!p.savepoint) {
    latest_completed_ = p.directory;
    std::set<std::string> shared;
    for (const auto& op : metadata.operators()) {
      for (const auto& st : op.subtasks()) {
        for (const auto& rel : st.shared_files()) shared.insert(fs::path(rel).filename().string());
      }
    }
    retained_.emplace_back(p.id, p.directory);
    retained_shared_[p.id] = std::move(shared);
    bool subsumed = false;
    while (static_cast<int>(retained_.size()) > settings_.num_retained) {
      (void)checkpoint::RemoveTree(retained_.front().second);
      retained_shared_.erase(retained_.front().first);
      retained_.erase(retained_.begin());
      subsumed = true;
    }
    if (subsumed) {
      // Shared files no retained checkpoint refers to any more are deleted.
      std::set<std::string> live;
      for (const auto& [id, names] : retained_shared_) live.insert(names.begin(), names.end());
      std::error_code ec;
      const fs::path shared_dir = fs::path(settings_.checkpoints_dir) / job_.job_id() / "shared";
      for (const auto& f : fs::directory_iterator(shared_dir, ec)) {
        const std::string name = f.path().filename().string();
        if (!live.count(name) && !name.ends_with(".inprogress")) fs::remove(f.path(), ec);
      }
    }
  }
  std::vector<std::string> attempts;
  for (auto& [attempt, t] : p.targets) attempts.push_back(attempt);
  hooks_.notify(attempts, p.id, true);
  if (p.done) p.done(p.directory);
}

void CheckpointCoordinator::FailPendingLocked(const std::string& why, bool counts) {
  if (!pending_) return;
  Pending p = *std::move(pending_);
  pending_.reset();
  cv_.notify_all();
  last_end_ = std::chrono::steady_clock::now();
  stats_.failed++;
  RecordLocked({p.id, "FAILED", p.savepoint, p.timestamp, p.latest_ack, 0, static_cast<int>(p.acks.size()),
                static_cast<int>(p.targets.size()), p.directory, why});
  (void)checkpoint::RemoveTree(p.directory);
  std::vector<std::string> attempts;
  for (auto& [attempt, t] : p.targets) attempts.push_back(attempt);
  if (hooks_.notify && counts) hooks_.notify(attempts, p.id, false);
  if (p.done) p.done(absl::AbortedError(absl::StrCat(p.savepoint ? "savepoint " : "checkpoint ", p.id, " failed: ", why)));
  if (counts && !p.savepoint && ++consecutive_failures_ > settings_.tolerable_failures) {
    consecutive_failures_ = 0;
    deferred_failure_ = absl::StrCat("exceeded execution.checkpointing.tolerable-failed-checkpoints (",
                                     settings_.tolerable_failures, "): ", why);
    cv_.notify_all();
  }
}

void CheckpointCoordinator::RecordLocked(Stats::Entry entry) {
  for (auto& e : stats_.history) {
    if (e.id == entry.id) {
      e = entry;
      goto recorded;
    }
  }
  stats_.history.insert(stats_.history.begin(), entry);
  if (stats_.history.size() > 10) stats_.history.pop_back();
recorded:
  if (entry.status == "COMPLETED") (entry.savepoint ? stats_.latest_savepoint : stats_.latest_completed) = entry;
  if (entry.status == "FAILED") stats_.latest_failed = entry;
  stats_.in_progress = pending_ ? 1 : 0;
}

CheckpointCoordinator::Stats CheckpointCoordinator::GetStats() {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s = stats_;
  s.in_progress = pending_ ? 1 : 0;
  return s;
}

}  // namespace eddy::jobmanager
