// Task: one subtask's operator chain on its own thread (see task.h).
#include "taskmanager/task.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <functional>
#include <map>
#include <stdexcept>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "checkpoint/snapshot_file.h"
#include "checkpoint/storage.h"
#include "eddy/checkpoint.h"
#include "eddy/functions.h"
#include "eddy/key_group.h"
#include "eddy/state.h"
#include "spdlog/spdlog.h"
#include "taskmanager/rocksdb_backend.h"

namespace eddy::runtime {
namespace {
// Thrown on the task thread when a suspending savepoint completed.
struct TaskSuspended {};

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

const char* ExecutionStateName(ExecutionState state) {
  switch (state) {
    case ExecutionState::kCreated: return "CREATED";
    case ExecutionState::kRunning: return "RUNNING";
    case ExecutionState::kFinished: return "FINISHED";
    case ExecutionState::kCanceled: return "CANCELED";
    case ExecutionState::kFailed: return "FAILED";
  }
  return "UNKNOWN";
}

NetworkEvent CheckpointBarrier::ToEvent() const {
  NetworkEvent event;
  event.kind = NetworkEvent::kCheckpointBarrier;
  event.value = id;
  event.payload = absl::StrCat(timestamp, " ", savepoint ? 1 : 0, suspend ? 1 : 0, " ", directory);
  return event;
}

bool CheckpointBarrier::FromEvent(const NetworkEvent& event, CheckpointBarrier* out) {
  if (event.kind != NetworkEvent::kCheckpointBarrier) return false;
  const std::string& p = event.payload;
  // "<timestamp> <savepoint 0|1><suspend 0|1> <directory>"
  size_t a = p.find(' ');
  if (a == std::string::npos || a + 3 >= p.size() || p[a + 3] != ' ') return false;
  try {
    out->timestamp = std::stoll(p.substr(0, a));
  } catch (...) {
    return false;
  }
  out->id = event.value;
  out->savepoint = p[a + 1] == '1';
  out->suspend = p[a + 2] == '1';
  out->directory = p.substr(a + 4);
  return true;
}

std::string TaskInfo::DisplayName() const {
  return absl::StrCat(task_name, " (", subtask_index + 1, "/", parallelism, ")");
}

// What one operator of the chain sees of its task.
class Task::Context final : public internal::OperatorContext, public RuntimeContext {
 public:
  Context(Task* task, std::unique_ptr<internal::KeyedStateBackend> backend)
      : task_(task), backend_(std::move(backend)) {
    pending_actions_ = &task->has_actions_;
  }
  RuntimeContext& runtime_context() override { return *this; }
  internal::KeyedStateBackend* keyed_state_backend() override { return backend_.get(); }
  bool IsRunning() const override { return !task_->cancelled(); }
  // Also lets chained sinks write what they batch (print, files).
  void FlushOutputs() override {
    task_->OnIdle();
    task_->FireDueTimers();
  }
  int64_t CurrentProcessingTime() override { return NowMillis(); }
  void RegisterProcessingTimer(int64_t time, std::function<void(int64_t)> callback) override {
    task_->RegisterTimer(time, std::move(callback));
  }
  void FireDueProcessingTimers() override { task_->FireDueTimers(); }
  const std::map<std::string, std::string>& job_config() override { return task_->info_.config; }
  OperatorStateStore& operator_state_store() override { return operator_state_; }
  void RegisterCheckpointedFunction(CheckpointedFunction* function) override { checkpointed_.push_back(function); }
  void RegisterCheckpointListener(CheckpointListener* listener) override { listeners_.push_back(listener); }
  void RunPendingActions() override { task_->RunPendingActions(); }

  const std::vector<CheckpointedFunction*>& checkpointed() const { return checkpointed_; }
  const std::vector<CheckpointListener*>& listeners() const { return listeners_; }

  const std::string& getTaskName() const override { return task_->info_.task_name; }
  const std::string& getJobId() const override { return task_->info_.job_id; }
  int getIndexOfThisSubtask() const override { return task_->info_.subtask_index; }
  int getNumberOfParallelSubtasks() const override { return task_->info_.parallelism; }
  int getMaxNumberOfParallelSubtasks() const override { return task_->info_.max_parallelism; }
  int getAttemptNumber() const override { return task_->info_.attempt; }
  MetricGroup& getMetricGroup() override { return task_->metrics_; }

 protected:
  internal::KeyedStateBackend& RequireKeyedBackend(const std::string& state_name) override {
    if (!backend_) {
      throw std::logic_error("keyed state '" + state_name +
                             "' is only available on a keyed stream (after keyBy)");
    }
    return *backend_;
  }

 private:
  Task* task_;
  std::unique_ptr<internal::KeyedStateBackend> backend_;
  OperatorStateStore operator_state_;
  std::vector<CheckpointedFunction*> checkpointed_;
  std::vector<CheckpointListener*> listeners_;
};

struct Task::ChainedOperator {
  int node_id = 0;
  std::unique_ptr<internal::StreamOperatorBase> op;
  std::unique_ptr<Context> context;
};

Task::Task(TaskInfo info, proto::JobVertex vertex, std::shared_ptr<internal::StreamGraph> graph,
           std::unique_ptr<InputGate> gate, std::vector<proto::JobEdge> input_edges,
           std::vector<TaskOutput> outputs, StateListener listener, CheckpointResponder responder)
    : info_(std::move(info)),
      vertex_(std::move(vertex)),
      graph_(std::move(graph)),
      gate_(std::move(gate)),
      input_edges_(std::move(input_edges)),
      outputs_(std::move(outputs)),
      listener_(std::move(listener)),
      responder_(std::move(responder)) {
  auto it = info_.config.find("state.backend.incremental");
  incremental_ = it != info_.config.end() && absl::AsciiStrToLower(it->second) == "true";
}

Task::~Task() {
  Cancel();
  Join();
}

void Task::Start() { thread_ = std::thread([this] { Run(); }); }

void Task::Join() {
  if (thread_.joinable()) thread_.join();
}

void Task::Cancel() {
  if (cancelled_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(cancel_mu_);
    if (head_ != nullptr && head_->IsSource()) head_->Cancel();
  }
  if (gate_) gate_->Cancel();
  for (TaskOutput& out : outputs_) out.partition->Cancel();
  actions_cv_.notify_all();
}

void Task::FlushOutputs() {
  for (TaskOutput& out : outputs_) out.partition->FlushAll();
}

void Task::Transition(ExecutionState state, const std::string& error) {
  state_.store(state);
  if (state == ExecutionState::kFailed) {
    spdlog::error("{} switched to {}: {}", info_.DisplayName(), ExecutionStateName(state), error);
  } else {
    spdlog::debug("{} switched to {}", info_.DisplayName(), ExecutionStateName(state));
  }
  if (listener_) listener_(*this, state, error);
}

void Task::BuildChain() {
  std::map<int, size_t> index_of;  // node id → chain position
  for (const proto::OperatorDescriptor& desc : vertex_.operators()) {
    const internal::StreamNode& node = graph_->node(desc.node_id());
    if (!node.operator_factory) {
      throw std::runtime_error("operator '" + node.name + "' has no factory in the rebuilt program");
    }
    auto chained = std::make_unique<ChainedOperator>();
    chained->node_id = desc.node_id();
    chained->op = node.operator_factory();
    std::unique_ptr<internal::KeyedStateBackend> backend;
    if (node.keyed) {
      // state.backend.type chooses hashmap or rocksdb.
      auto created = CreateKeyedStateBackend(
          info_.config, KeyGroupRangeForOperator(info_.max_parallelism, info_.parallelism, info_.subtask_index),
          info_.max_parallelism, absl::StrCat(info_.job_id, "_", desc.node_id(), "_", info_.subtask_index));
      if (!created.ok()) throw std::runtime_error(std::string(created.status().message()));
      backend = *std::move(created);
      backend->SetTtlTimeProvider(NowMillis);  // TTL runs on the task's processing-time clock
    }
    chained->context = std::make_unique<Context>(this, std::move(backend));
    index_of[desc.node_id()] = chain_.size();
    chain_.push_back(std::move(chained));
  }

  // Outputs of each operator: chained successors and network edges, main and
  // side outputs by tag. (type node, output) pairs grouped by tag.
  struct Outputs {
    const internal::TypeHandle* type = nullptr;
    std::vector<internal::OutputBase*> list;
  };
  std::vector<std::map<std::string, Outputs>> outs(chain_.size());
  auto add = [&](int source, const std::string& tag, const internal::TypeHandle* type,
                 std::unique_ptr<internal::OutputBase> out) {
    Outputs& o = outs[index_of.at(source)][tag];
    o.type = type;
    o.list.push_back(out.get());
    owned_outputs_.push_back(std::move(out));
  };
  for (const proto::ChainedEdge& e : vertex_.chained_edges()) {
    const internal::TypeHandle* type = graph_->node(e.type_node()).output_type;
    internal::InputBase* input = chain_[index_of.at(e.target_node())]->op->GetInput(e.target_input());
    auto out = input ? type->MakeChainingOutput(input) : nullptr;
    if (!out) {
      throw std::runtime_error(absl::StrCat("operator '", graph_->node(e.target_node()).name,
                                            "' does not accept records of type ", std::string(type->name())));
    }
    add(e.source_node(), e.side_output_tag(), type, std::move(out));
  }
  const bool flush_always = info_.buffer_timeout_ms == 0;
  for (TaskOutput& output : outputs_) {
    const proto::JobEdge& e = output.edge;
    const internal::TypeHandle* type = graph_->node(e.type_node()).output_type;
    auto writer = std::make_unique<RecordWriter>(output.partition, flush_always);
    std::unique_ptr<internal::ChannelSelectorBase> selector;
    int channels = output.partition->num_subpartitions();
    if (e.partitioner() == proto::KEY_GROUP) {
      selector = graph_->node(e.partition_node())
                     .selector_factory(channels, graph_->node(e.target_node()).max_parallelism);
    } else {
      selector = type->MakeSelector(static_cast<internal::PartitionKind>(e.partitioner()), channels);
    }
    add(e.source_node(), e.side_output_tag(), type,
        type->MakeNetworkOutput(writer.get(), std::move(selector)));
    writers_.push_back(std::move(writer));
  }
  for (size_t i = 0; i < chain_.size(); ++i) {
    const internal::StreamNode& node = graph_->node(chain_[i]->node_id);
    auto& main = outs[i][""];
    if (node.output_type != nullptr) {
      if (main.list.size() == 1) {
        chain_[i]->op->SetOutput(main.list[0]);
      } else {
        auto fan = node.output_type->MakeFanOut(main.list);
        chain_[i]->op->SetOutput(fan.get());
        owned_outputs_.push_back(std::move(fan));
      }
    }
    for (auto& [tag, side] : outs[i]) {
      if (tag.empty()) continue;
      if (side.list.size() == 1) {
        chain_[i]->op->SetSideOutput(tag, side.list[0]);
      } else {
        auto fan = side.type->MakeFanOut(side.list);
        chain_[i]->op->SetSideOutput(tag, fan.get());
        owned_outputs_.push_back(std::move(fan));
      }
    }
  }

  // Network inputs of the head: one deserializer per logical input.
  if (gate_) {
    deserializers_.resize(2);
    for (int c = 0; c < gate_->num_channels(); ++c) {
      int input = gate_->channel(c).input_index;
      if (deserializers_[static_cast<size_t>(input)]) continue;
      const internal::TypeHandle* type = nullptr;
      for (const proto::JobEdge& e : input_edges_) {
        if (e.target_input() == input) type = graph_->node(e.type_node()).output_type;
      }
      internal::InputBase* target = chain_.front()->op->GetInput(input);
      auto deserializer = (type && target) ? type->MakeDeserializer(target) : nullptr;
      if (!deserializer) {
        throw std::runtime_error(absl::StrCat("operator '", graph_->node(chain_.front()->node_id).name,
                                              "' cannot take its network input ", input));
      }
      deserializers_[static_cast<size_t>(input)] = std::move(deserializer);
    }
  }
  chain_built_.store(true, std::memory_order_release);
  std::lock_guard<std::mutex> lock(cancel_mu_);
  head_ = chain_.front()->op.get();
}

int64_t Task::records_out() const {
  if (!chain_built_.load(std::memory_order_acquire)) return 0;
  int64_t n = 0;
  for (const auto& w : writers_) n += w->records_written();
  return n;
}

int64_t Task::bytes_out() const {
  if (!chain_built_.load(std::memory_order_acquire)) return 0;
  int64_t n = 0;
  for (const auto& w : writers_) n += w->bytes_written();
  return n;
}

void Task::RegisterTimer(int64_t time, std::function<void(int64_t)> callback) {
  timers_.push_back({time, timer_sequence_++, std::move(callback)});
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
}

void Task::FireDueTimers() {
  if (timers_.empty()) return;
  const int64_t now = NowMillis();
  while (!timers_.empty() && timers_.front().time <= now) {
    std::pop_heap(timers_.begin(), timers_.end(), std::greater<>());
    Timer timer = std::move(timers_.back());
    timers_.pop_back();
    timer.callback(timer.time);  // may register new timers
  }
}

std::chrono::steady_clock::time_point Task::NextTimerDeadline() {
  if (timers_.empty()) return std::chrono::steady_clock::time_point::max();
  int64_t wait = std::max<int64_t>(0, timers_.front().time - NowMillis());
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(wait);
}

void Task::DisposeState() {
  for (auto& c : chain_) {
    if (auto* backend = c->context->keyed_state_backend()) {
      if (absl::Status s = backend->Dispose(); !s.ok()) {
        spdlog::warn("{}: could not dispose keyed state: {}", info_.DisplayName(), std::string(s.message()));
      }
    }
  }
}

void Task::OnIdle() {
  for (auto& c : chain_) c->op->OnIdle();
  FlushOutputs();
}

void Task::ProcessInput() {
  const int n = gate_->num_channels();
  std::vector<RecordFramer> framers(static_cast<size_t>(n));
  std::vector<bool> ended(static_cast<size_t>(n), false);
  std::vector<int64_t> channel_watermark(static_cast<size_t>(n), internal::kNoTimestamp);
  std::vector<bool> channel_idle(static_cast<size_t>(n), false);
  bool input_idle[2] = {false, false};
  int live_per_input[2] = {0, 0};
  int64_t input_watermark[2] = {internal::kNoTimestamp, internal::kNoTimestamp};
  for (int c = 0; c < n; ++c) live_per_input[gate_->channel(c).input_index]++;
  int live = n;
  internal::StreamOperatorBase* head = chain_.front()->op.get();
  std::string error;

  // Barrier alignment: the checkpoint being aligned, the channels that
  // delivered its barrier, and (exactly-once) the channels held back meanwhile.
  const bool align = info_.checkpointing.exactly_once;
  std::optional<CheckpointBarrier> aligning;
  std::vector<bool> barrier_seen(static_cast<size_t>(n), false);
  std::vector<bool> blocked(static_cast<size_t>(n), false);
  std::vector<int> deferred;  // blocked channels the gate offered meanwhile
  auto release_blocked = [&] {
    std::fill(blocked.begin(), blocked.end(), false);
    std::fill(barrier_seen.begin(), barrier_seen.end(), false);
    for (int d : deferred) gate_->Requeue(d);
    deferred.clear();
    aligning.reset();
  };
  auto maybe_complete_alignment = [&] {
    if (!aligning) return;
    for (int k = 0; k < n; ++k) {
      if (!ended[static_cast<size_t>(k)] && !barrier_seen[static_cast<size_t>(k)]) return;
    }
    CheckpointBarrier b = *std::move(aligning);
    release_blocked();
    PerformCheckpoint(b);
  };

  while (live > 0) {
    if (has_actions_.load(std::memory_order_relaxed)) RunPendingActions();
    FireDueTimers();
    int c = gate_->WaitForChannelUntil(NextTimerDeadline(), [this] { OnIdle(); });
    if (c == InputGate::kTimedOut) continue;
    if (c < 0) throw TaskCancelled{};
    if (blocked[static_cast<size_t>(c)]) {
      deferred.push_back(c);
      continue;
    }
    const int input = gate_->channel(c).input_index;
    InputChannel* channel = gate_->channel(c).channel.get();
    internal::RecordDeserializerBase* deserializer = deserializers_[static_cast<size_t>(input)].get();
    for (int round = 0;; ++round) {
      if (round == 16) {  // let other channels have a turn
        gate_->Requeue(c);
        break;
      }
      std::string_view data;
      NetworkEvent event;
      Subpartition::PollResult r = channel->Poll(&data, &event);
      if (r == Subpartition::PollResult::kNone) break;
      if (r == Subpartition::PollResult::kError) {
        // The channel's message names the producer (e.g. a lost TaskManager connection).
        throw std::runtime_error(std::string(channel->failure().message()));
      }
      if (r == Subpartition::PollResult::kData) {
        bytes_in_.store(bytes_in_.load(std::memory_order_relaxed) + static_cast<int64_t>(data.size()),
                         std::memory_order_relaxed);
        framers[static_cast<size_t>(c)].Feed(data, [&](std::string_view record) {
          records_in_.store(records_in_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
          if (cancelled_.load(std::memory_order_relaxed)) throw TaskCancelled{};
          if (!deserializer->Process(record, &error)) throw std::runtime_error(error);
          return true;
        });
        continue;
      }
      if (event.kind == NetworkEvent::kCheckpointBarrier) {
        CheckpointBarrier b;
        if (!CheckpointBarrier::FromEvent(event, &b)) throw std::runtime_error("received a malformed checkpoint barrier");
        if (b.id <= last_checkpoint_ || (aligning && b.id < aligning->id)) continue;  // late: already taken or abandoned
        if (aligning && b.id > aligning->id) {
          // A newer checkpoint overtook the one being aligned: that one was
          // abandoned (timed out); align the new one instead.
          release_blocked();
        }
        if (!aligning) aligning = b;
        barrier_seen[static_cast<size_t>(c)] = true;
        if (align) blocked[static_cast<size_t>(c)] = true;
        maybe_complete_alignment();
        if (blocked[static_cast<size_t>(c)]) break;  // hold this channel back
        continue;
      }
      if (event.kind == NetworkEvent::kWatermark) {
        channel_watermark[static_cast<size_t>(c)] =
            std::max(channel_watermark[static_cast<size_t>(c)], event.value);
        channel_idle[static_cast<size_t>(c)] = false;
      } else if (event.kind == NetworkEvent::kWatermarkStatus) {
        channel_idle[static_cast<size_t>(c)] = event.value != 0;
      } else {  // end of partition
        if (framers[static_cast<size_t>(c)].HasPartialRecord()) {
          throw std::runtime_error("channel ended inside a record");
        }
        ended[static_cast<size_t>(c)] = true;
        --live;
        if (--live_per_input[input] == 0) head->EndInput(input);
        maybe_complete_alignment();  // an ended channel has nothing more to align
      }
      // The input's watermark is the minimum over its open, active channels;
      // it is idle when every open channel is.
      int64_t wm = internal::kMaxWatermark;
      bool any = false, all_idle = true;
      for (int k = 0; k < n; ++k) {
        if (gate_->channel(k).input_index != input || ended[static_cast<size_t>(k)]) continue;
        if (channel_idle[static_cast<size_t>(k)]) continue;
        all_idle = false;
        wm = std::min(wm, channel_watermark[static_cast<size_t>(k)]);
        any = true;
      }
      bool idle = all_idle && live_per_input[input] > 0;
      if (idle != input_idle[input]) {
        input_idle[input] = idle;
        deserializer->target()->ProcessWatermarkStatus(idle);
      }
      if (any && wm > input_watermark[input]) {
        input_watermark[input] = wm;
        deserializer->target()->ProcessWatermark(wm);
      }
      if (ended[static_cast<size_t>(c)]) break;
    }
    if (cancelled()) throw TaskCancelled{};
  }
}

void Task::Run() {
  Transition(ExecutionState::kRunning, "");
  std::string error;
  try {
    BuildChain();
    RestoreState();
    // Open from the tail so that every operator's consumers are ready.
    for (auto it = chain_.rbegin(); it != chain_.rend(); ++it) (*it)->op->Open(*(*it)->context);
    if (head_->IsSource()) {
      head_->Run(*chain_.front()->context);
      // Stopped for a suspending savepoint: wait for it to complete.
      const bool never = false;
      if (suspend_after_ >= 0 && !cancelled()) RunActionsUntil(never);
    } else {
      ProcessInput();
    }
    if (!cancelled()) {
      input_ended_ = true;
      for (auto& c : chain_) c->op->Finish();
      FlushOutputs();
      if (info_.checkpointing.enabled) WaitForFinalCheckpoint();
      for (auto& w : writers_) w->Finish();
      for (auto& c : chain_) c->op->Close();
      StopSnapshotWriter();
      DisposeState();
      Transition(ExecutionState::kFinished, "");
      return;
    }
  } catch (const TaskSuspended&) {
    // Stop-with-savepoint: end now, without finishing the operators; their
    // state is in the savepoint.
    for (auto& c : chain_) {
      try {
        c->op->Close();
      } catch (...) {
      }
    }
    StopSnapshotWriter();
    DisposeState();
    spdlog::info("{} stopped after its savepoint", info_.DisplayName());
    Transition(ExecutionState::kFinished, "");
    return;
  } catch (const TaskCancelled&) {
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "unknown exception";
  }
  // Failed or cancelled: close what was opened, ignoring secondary errors.
  for (auto& c : chain_) {
    try {
      c->op->Close();
    } catch (...) {
    }
  }
  StopSnapshotWriter();
  DisposeState();
  if (!error.empty() && !cancelled()) {
    Transition(ExecutionState::kFailed, error);
  } else {
    Transition(ExecutionState::kCanceled, "");
  }
}

// ---- Actions ----

void Task::PostAction(std::function<void()> action) {
  {
    std::lock_guard<std::mutex> lock(actions_mu_);
    actions_.push_back(std::move(action));
    has_actions_.store(true, std::memory_order_release);
  }
  actions_cv_.notify_all();
  if (gate_) gate_->Wake();
}

void Task::RunPendingActions() {
  std::vector<std::function<void()>> actions;
  {
    std::lock_guard<std::mutex> lock(actions_mu_);
    actions.swap(actions_);
    has_actions_.store(false, std::memory_order_relaxed);
  }
  for (auto& action : actions) action();
}

void Task::TriggerCheckpoint(CheckpointBarrier barrier, bool stop, bool drain) {
  barrier.suspend = stop && !drain;
  PostAction([this, barrier = std::move(barrier), stop, drain] {
    if (barrier.id <= last_checkpoint_) return;
    if (head_->IsSource() || input_ended_) {
      PerformCheckpoint(barrier);
      if (stop && head_->IsSource()) head_->Stop(drain);
    } else {
      deferred_trigger_ = barrier;  // taken once the remaining input is consumed
    }
  });
}

void Task::NotifyCheckpointComplete(int64_t id) {
  PostAction([this, id] {
    for (auto& c : chain_) {
      for (CheckpointListener* l : c->context->listeners()) l->notifyCheckpointComplete(id);
    }
    if (final_checkpoint_ >= 0 && id >= final_checkpoint_) final_checkpoint_done_ = true;
    if (suspend_after_ >= 0 && id >= suspend_after_) throw TaskSuspended{};
  });
}

void Task::NotifyCheckpointAborted(int64_t id) {
  PostAction([this, id] {
    for (auto& c : chain_) {
      for (CheckpointListener* l : c->context->listeners()) l->notifyCheckpointAborted(id);
    }
  });
}

void Task::PerformCheckpoint(const CheckpointBarrier& barrier) {
  if (barrier.id <= last_checkpoint_) return;
  last_checkpoint_ = barrier.id;
  if (input_ended_ && final_checkpoint_ < 0) final_checkpoint_ = barrier.id;
  if (barrier.suspend) suspend_after_ = barrier.id;
  // The synchronous part: every operator's state as of this point.
  struct Part {
    std::string uid, name, file;
    std::vector<internal::OperatorStateList> lists;
    std::unique_ptr<internal::KeyedStateSnapshot> keyed;
    KeyGroupRange range;
    std::string backend;
    // Incremental: the store's checkpoint files in a local directory.
    std::string store_dir, local_dir;
    std::vector<std::string> store_files;
  };
  auto parts = std::make_shared<std::vector<Part>>();
  std::string error;
  try {
    FunctionSnapshotContext fctx(barrier.id, barrier.timestamp);
    for (size_t i = 0; i < chain_.size(); ++i) {
      Context& ctx = *chain_[i]->context;
      for (CheckpointedFunction* f : ctx.checkpointed()) f->snapshotState(fctx);
      Part part;
      part.uid = vertex_.operators(static_cast<int>(i)).uid();
      part.name = vertex_.operators(static_cast<int>(i)).name();
      part.file = absl::StrCat("op-", info_.vertex_id, "-", i, "-", info_.subtask_index);
      part.lists = ctx.operator_state_store().Snapshot();
      if (internal::KeyedStateBackend* backend = ctx.keyed_state_backend()) {
        // Incremental rocksdb checkpoints: the in-memory states as sections,
        // the store as its files (savepoints stay full and self-contained).
        const bool incremental = incremental_ && !barrier.savepoint && backend->kv_store() != nullptr;
        auto snapshot = backend->Snapshot(!incremental);
        if (!snapshot.ok()) throw std::runtime_error(std::string(snapshot.status().message()));
        if (incremental) {
          part.store_dir = backend->kv_store()->directory();
          part.local_dir = absl::StrCat(part.store_dir, "-chk-", barrier.id);
          auto files = backend->kv_store()->CreateCheckpoint(part.local_dir);
          if (!files.ok()) throw std::runtime_error(std::string(files.status().message()));
          part.store_files = *std::move(files);
        }
        part.keyed = *std::move(snapshot);
        part.range = backend->key_group_range();
        part.backend = backend->type();
      }
      parts->push_back(std::move(part));
    }
  } catch (const std::exception& e) {
    error = absl::StrCat("snapshotting ", info_.DisplayName(), " failed: ", e.what());
  }
  // The barrier goes downstream at once, ahead of any later record.
  const NetworkEvent event = barrier.ToEvent();
  for (auto& w : writers_) w->BroadcastEvent(event);
  FlushOutputs();
  if (!error.empty()) {
    spdlog::warn("{}", error);
    if (responder_) responder_(*this, barrier.id, {}, error);
    return;
  }
  // The asynchronous part: writing the files.
  const bool finished = input_ended_;
  std::lock_guard<std::mutex> lock(writer_mu_);
  writer_jobs_.push_back([this, parts, barrier, finished] {
    std::vector<OperatorSnapshotHandle> handles;
    std::string failure;
    for (Part& part : *parts) {
      auto handle = checkpoint::WriteOperatorSnapshot(barrier.directory, part.file, info_.subtask_index, part.lists,
                                                      part.keyed.get(), part.range, part.backend);
      part.keyed.reset();  // releases the store's snapshot early
      if (handle.ok() && !part.local_dir.empty()) {
        absl::Status uploaded = UploadStoreFiles(barrier.directory, part.file, part.store_dir, part.local_dir,
                                                 part.store_files, &*handle);
        if (!uploaded.ok()) handle = uploaded;
      }
      if (!part.local_dir.empty()) (void)checkpoint::RemoveTree(part.local_dir);
      if (!handle.ok()) {
        failure = absl::StrCat("writing the state of ", info_.DisplayName(), " for checkpoint ", barrier.id,
                               " failed: ", std::string(handle.status().message()));
        break;
      }
      handle->set_finished(finished);
      handles.push_back({part.uid, part.name, *std::move(handle)});
    }
    if (!failure.empty()) spdlog::warn("{}", failure);
    if (responder_) responder_(*this, barrier.id, failure.empty() ? std::move(handles) : std::vector<OperatorSnapshotHandle>{}, failure);
  });
  if (!writer_.joinable()) writer_ = std::thread([this] { SnapshotWriterLoop(); });
  writer_cv_.notify_all();
}

absl::Status Task::UploadStoreFiles(const std::string& directory, const std::string& file, const std::string& store_dir,
                                    const std::string& local_dir, const std::vector<std::string>& files,
                                    proto::OperatorSubtaskState* handle) {
  namespace fs = std::filesystem;
  const fs::path shared = fs::path(directory).parent_path() / "shared";
  const std::string instance = fs::path(store_dir).filename().string();
  std::set<std::string>& uploaded = uploaded_[store_dir];
  std::error_code ec;
  fs::create_directories(shared, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", shared.string(), ": ", ec.message()));
  int64_t bytes = 0;
  for (const std::string& f : files) {
    const fs::path from = fs::path(local_dir) / f;
    if (f.ends_with(".sst")) {
      // SST files never change: upload each once, then only refer to it.
      const std::string name = absl::StrCat(instance, "_", f);
      if (!uploaded.count(name)) {
        const fs::path to = shared / name;
        fs::copy_file(from, fs::path(to.string() + ".inprogress"), fs::copy_options::overwrite_existing, ec);
        if (!ec) fs::rename(fs::path(to.string() + ".inprogress"), to, ec);
        if (ec) return absl::UnavailableError(absl::StrCat("cannot upload ", from.string(), ": ", ec.message()));
        bytes += static_cast<int64_t>(fs::file_size(to, ec));
        uploaded.insert(name);
      }
      handle->add_shared_files(absl::StrCat("../shared/", name));
    } else {
      const std::string rel = absl::StrCat(file, "-db/", f);
      fs::create_directories(fs::path(directory) / (file + "-db"), ec);
      fs::copy_file(from, fs::path(directory) / rel, fs::copy_options::overwrite_existing, ec);
      if (ec) return absl::UnavailableError(absl::StrCat("cannot upload ", from.string(), ": ", ec.message()));
      bytes += static_cast<int64_t>(fs::file_size(fs::path(directory) / rel, ec));
      handle->add_private_files(rel);
    }
  }
  handle->set_incremental_size(handle->state_size() + bytes);
  int64_t total = handle->state_size();
  for (const auto& f : handle->shared_files()) total += static_cast<int64_t>(fs::file_size(fs::path(directory) / f, ec));
  for (const auto& f : handle->private_files()) total += static_cast<int64_t>(fs::file_size(fs::path(directory) / f, ec));
  handle->set_state_size(total);
  return absl::OkStatus();
}

void Task::SnapshotWriterLoop() {
  std::unique_lock<std::mutex> lock(writer_mu_);
  while (true) {
    writer_cv_.wait(lock, [&] { return writer_stop_ || !writer_jobs_.empty(); });
    if (writer_jobs_.empty()) return;  // stopping, nothing left
    auto job = std::move(writer_jobs_.front());
    writer_jobs_.pop_front();
    if (cancelled()) continue;  // nobody waits for the snapshots of a cancelled task
    writer_busy_ = true;
    lock.unlock();
    job();
    lock.lock();
    writer_busy_ = false;
  }
}

void Task::StopSnapshotWriter() {
  {
    std::lock_guard<std::mutex> lock(writer_mu_);
    writer_stop_ = true;
  }
  writer_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void Task::WaitForFinalCheckpoint() {
  if (deferred_trigger_) {
    CheckpointBarrier b = *std::move(deferred_trigger_);
    deferred_trigger_.reset();
    PerformCheckpoint(b);
  }
  RunActionsUntil(final_checkpoint_done_);
}

void Task::RunActionsUntil(const bool& done) {
  while (!done) {
    {
      std::unique_lock<std::mutex> lock(actions_mu_);
      actions_cv_.wait_for(lock, std::chrono::milliseconds(200),
                           [&] { return has_actions_.load() || cancelled(); });
    }
    if (cancelled()) throw TaskCancelled{};
    RunPendingActions();
  }
}

void Task::RestoreState() {
  const std::string& dir = info_.checkpointing.restore_directory;
  if (dir.empty()) return;
  auto metadata = checkpoint::ReadMetadata(dir, &restore_dir_);
  if (!metadata.ok()) throw std::runtime_error(std::string(metadata.status().message()));
  restore_metadata_ = *std::move(metadata);
  last_checkpoint_ = restore_metadata_.checkpoint_id();
  for (size_t i = 0; i < chain_.size(); ++i) {
    const std::string& uid = vertex_.operators(static_cast<int>(i)).uid();
    const proto::OperatorStateHandles* handles = nullptr;
    for (const auto& op : restore_metadata_.operators()) {
      if (op.uid() == uid) handles = &op;
    }
    if (handles == nullptr) continue;  // a new operator: starts empty
    Context& ctx = *chain_[i]->context;
    auto lists = checkpoint::AssignOperatorState(*handles, restore_dir_, info_.subtask_index, info_.parallelism);
    if (!lists.ok()) throw std::runtime_error(std::string(lists.status().message()));
    ctx.operator_state_store().SetRestored(*std::move(lists));
    if (internal::KeyedStateBackend* backend = ctx.keyed_state_backend()) {
      absl::Status s = checkpoint::RestoreKeyedState(*handles, restore_dir_, *backend);
      if (!s.ok()) throw std::runtime_error(std::string(s.message()));
    }
  }
  spdlog::info("{} restored its state from {} (checkpoint {})", info_.DisplayName(), restore_dir_,
               restore_metadata_.checkpoint_id());
}

}  // namespace eddy::runtime
