// Exactly-once sinks on top of checkpoints: Flink's TwoPhaseCommitSinkFunction.
//
// A subclass names its transaction type TXN (anything with a TypeSerializer,
// e.g. a struct listed with EDDY_FIELDS) and implements the transaction hooks;
// this class drives them from the checkpoint protocol:
//
//   records       -> invoke(current, record)
//   checkpoint n  -> preCommit(current); current becomes pending for n;
//                    current = beginTransaction(); state is snapshotted
//   n completed   -> commit() every pending transaction of a checkpoint <= n,
//                    oldest first
//   restore       -> recoverAndCommit() every pending transaction of the
//                    restored state (its checkpoint completed, or the job would
//                    not restore from it), recoverAndAbort() the restored
//                    current one (its records are replayed by the sources),
//                    finishRecoveringContext(), then beginTransaction()
//
// so a record becomes visible once, when the first checkpoint after it
// completes. commit() must therefore be idempotent: after a failure between a
// checkpoint's completion and its notification, or after a second failure, the
// same transaction is committed again on recovery.
//
// A normal end is finish(), then close(). With checkpointing the task takes
// one final checkpoint in between, which commits everything; the transaction
// that checkpoint began is empty and close() aborts it. Without checkpointing
// no snapshot follows finish(): close() commits what is left directly (the
// transactions pending since a savepoint, then the current one, pre-committed
// first), so the output appears when the job ends. A failure or cancellation
// (close() without finish()) aborts the current transaction and leaves the
// pending ones to recovery.
//
// All hooks run on the task's thread. beginTransaction() is first called from
// initializeState(), before open(); getRuntimeContext() is already set then.
// A subclass that overrides initializeState, snapshotState, finish or close
// must call this class's version.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/checkpoint.h"
#include "eddy/functions.h"
#include "eddy/serializer.h"
#include "eddy/state.h"

namespace eddy {

// What one subtask of a TwoPhaseCommitSinkFunction keeps in a checkpoint; one
// element of its operator list state, so that on rescaling every pending
// transaction is recovered by exactly one new subtask.
template <class TXN>
struct TwoPhaseCommitState {
  // Begun at the snapshot: aborted on restore.
  TXN current{};
  // Pre-committed transactions by checkpoint id, ascending: committed on restore.
  std::vector<std::pair<int64_t, TXN>> pending;
};

// EDDY_FIELDS cannot name a template; the encoding is what it would produce.
template <class TXN>
struct TypeSerializer<TwoPhaseCommitState<TXN>, std::enable_if_t<kIsSerializable<TXN>>> {
  static constexpr size_t kMinEncodedSize = internal::MinEncodedSize<TXN>() + 1;
  static void Serialize(const TwoPhaseCommitState<TXN>& value, DataOutput& out) {
    TypeSerializer<TXN>::Serialize(value.current, out);
    TypeSerializer<std::vector<std::pair<int64_t, TXN>>>::Serialize(value.pending, out);
  }
  static void Deserialize(DataInput& in, TwoPhaseCommitState<TXN>& value) {
    TypeSerializer<TXN>::Deserialize(in, value.current);
    TypeSerializer<std::vector<std::pair<int64_t, TXN>>>::Deserialize(in, value.pending);
  }
};

template <class IN, class TXN>
class TwoPhaseCommitSinkFunction : public RichSinkFunction<IN>, public CheckpointedFunction, public CheckpointListener {
  static_assert(kIsSerializable<TXN>,
                "TwoPhaseCommitSinkFunction<IN, TXN>: TXN is stored in checkpoints and needs a TypeSerializer "
                "(EDDY_FIELDS(Type, field...) or a specialization of eddy::TypeSerializer)");

 public:
  using TransactionType = TXN;
  using State = TwoPhaseCommitState<TXN>;

  TwoPhaseCommitSinkFunction() = default;
  // Functions are copied into each parallel instance before they start: a copy
  // has no transactions.
  TwoPhaseCommitSinkFunction(const TwoPhaseCommitSinkFunction&) : TwoPhaseCommitSinkFunction() {}
  TwoPhaseCommitSinkFunction& operator=(const TwoPhaseCommitSinkFunction&) = delete;

  // ---- The record path (final: subclasses implement invoke(TXN&, const IN&)) ----

  // Writes `value` into the current transaction.
  void invoke(const IN& value) final { invoke(currentTransaction(), value); }
  // The same, reachable through a subclass whose invoke(TXN&, const IN&) hides
  // invoke(const IN&) (the runtime calls sinks as f.invoke(v) or f(v)).
  void operator()(const IN& value) { invoke(currentTransaction(), value); }

  // ---- CheckpointedFunction / CheckpointListener ----

  // Recovers the transactions of a restored state (see the file comment) and
  // begins the first transaction.
  void initializeState(FunctionInitializationContext& context) override {
    state_ = &context.getOperatorStateStore().getListState(ListStateDescriptor<State>(kStateName));
    if (context.isRestored()) {
      for (State& restored : state_->get()) {
        for (auto& [checkpoint_id, txn] : restored.pending) recoverAndCommit(txn);
        recoverAndAbort(restored.current);
      }
    }
    finishRecoveringContext();
    state_->clear();
    pending_.clear();
    current_ = beginTransaction();
    has_current_ = true;
  }

  // Pre-commits the current transaction as the one of this checkpoint and
  // begins the next.
  void snapshotState(const FunctionSnapshotContext& context) override {
    RequireTransaction("snapshotState");
    const int64_t checkpoint_id = context.getCheckpointId();
    if (!pending_.empty() && pending_.back().first >= checkpoint_id) {
      throw std::logic_error("TwoPhaseCommitSinkFunction: checkpoint " + std::to_string(checkpoint_id) +
                             " is not newer than pending checkpoint " + std::to_string(pending_.back().first));
    }
    preCommit(current_);
    pending_.emplace_back(checkpoint_id, std::move(current_));
    current_ = beginTransaction();
    snapshot_after_finish_ = finished_;
    state_->update({State{current_, pending_}});
  }

  // Commits, oldest first, every transaction pre-committed at a checkpoint up
  // to `checkpoint_id` (completing n implies every earlier checkpoint).
  void notifyCheckpointComplete(int64_t checkpoint_id) override {
    size_t done = 0;
    while (done < pending_.size() && pending_[done].first <= checkpoint_id) {
      commit(pending_[done].second);
      ++done;
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(done));
  }

  // ---- Lifecycle ----

  void finish() override { finished_ = true; }

  // After finish() with no checkpoint since (checkpointing off): commits the
  // pending and the current transactions. Otherwise aborts the current one:
  // after the final checkpoint it is empty, and on failure or cancellation its
  // records will be replayed; pending transactions are left for recovery.
  void close() override {
    if (!has_current_) return;  // never initialized, or closed before
    has_current_ = false;
    if (finished_ && !snapshot_after_finish_) {
      preCommit(current_);
      for (auto& [checkpoint_id, txn] : pending_) commit(txn);
      pending_.clear();
      commit(current_);
    } else {
      abort(current_);
    }
  }

 protected:
  // ---- Transaction hooks ----

  // Starts a transaction; called on start, after every snapshot and after recovery.
  virtual TXN beginTransaction() = 0;
  // Writes one record into `txn`.
  virtual void invoke(TXN& txn, const IN& value) = 0;
  // Makes `txn` durable and ready to commit; no more records go into it.
  virtual void preCommit(TXN& txn) = 0;
  // Makes a pre-committed `txn` visible. Must succeed, and do nothing, for a
  // transaction that is already committed (recovery commits again).
  virtual void commit(TXN& txn) = 0;
  // Discards `txn` (pre-committed or not).
  virtual void abort(TXN& txn) = 0;
  // Commits a pre-committed transaction of a restored checkpoint.
  virtual void recoverAndCommit(TXN& txn) { commit(txn); }
  // Discards the in-flight transaction of a restored checkpoint.
  virtual void recoverAndAbort(TXN& txn) { abort(txn); }
  // Called once after the restored transactions (if any) were handled, before
  // the first beginTransaction().
  virtual void finishRecoveringContext() {}

  // The transaction records currently go to (valid from initializeState to close).
  TXN& currentTransaction() {
    RequireTransaction("invoke");
    return current_;
  }
  // Pre-committed transactions waiting for their checkpoint to complete.
  const std::vector<std::pair<int64_t, TXN>>& pendingTransactions() const { return pending_; }

 private:
  static constexpr const char* kStateName = "two-phase-commit-state";

  void RequireTransaction(const char* what) const {
    if (!has_current_) {
      throw std::logic_error(std::string("TwoPhaseCommitSinkFunction: ") + what +
                             " without a transaction (initializeState was not called, or after close)");
    }
  }

  ListState<State>* state_ = nullptr;
  TXN current_{};
  bool has_current_ = false;
  std::vector<std::pair<int64_t, TXN>> pending_;
  bool snapshot_after_finish_ = false;
  bool finished_ = false;
};

}  // namespace eddy
