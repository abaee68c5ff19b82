// PostgreSQL connectors: an idempotent upsert sink, an exactly-once append
// sink built on two-phase commit (PREPARE TRANSACTION), and a bounded,
// parallel, checkpointed table source.
//
// Values cross the boundary as text, one optional string per column
// (PostgresRow; std::nullopt is SQL NULL), so that the user's functions
// convert between T and rows and PostgreSQL casts text to the column types.
// Table and column names are inserted into SQL as written: quote them yourself
// ("\"Mixed Case\"") where PostgreSQL needs it; a schema-qualified table
// ("shop.orders") works as is. libpq stays inside the connector library.
//
// Link with Eddy::connector_postgres.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eddy/checkpoint.h"
#include "eddy/functions.h"
#include "eddy/serializer.h"
#include "eddy/state.h"
#include "eddy/two_phase_commit.h"

namespace eddy::connectors {

// One row as text: a value per column, std::nullopt for NULL.
using PostgresRow = std::vector<std::optional<std::string>>;

// Where and how to connect. Connecting is tried `connect_attempts` times,
// waiting `connect_backoff` before the second attempt and twice as long
// before each further one; then the error names host:port/database and
// libpq's message.
struct PostgresConnectionOptions {
  std::string host = "127.0.0.1";
  int port = 5432;
  std::string database = "postgres";
  std::string user;      // empty: libpq's default (the OS user)
  std::string password;  // empty: none (trust, .pgpass or PGPASSWORD)
  int connect_attempts = 3;
  std::chrono::milliseconds connect_backoff{100};
  int connect_timeout_seconds = 5;  // per attempt
};

namespace internal {

// A connection to PostgreSQL. Every error names the server
// (host:port/database) and the statement kind and table it was given.
class PostgresSession {
 public:
  static absl::StatusOr<std::unique_ptr<PostgresSession>> Connect(const PostgresConnectionOptions& options);
  ~PostgresSession();
  PostgresSession(const PostgresSession&) = delete;
  PostgresSession& operator=(const PostgresSession&) = delete;

  // "host:port/database", for messages.
  const std::string& endpoint() const;
  // Runs a statement without parameters; `what` names it in errors
  // (e.g. "PREPARE TRANSACTION for table 'orders'").
  absl::Status Execute(const std::string& sql, const std::string& what);
  // Runs a query with text parameters ($1, $2...) and returns its rows as text.
  absl::StatusOr<std::vector<PostgresRow>> Query(const std::string& sql, const PostgresRow& params,
                                                 const std::string& what);
  // Runs `sql` with text parameters as the server-side prepared statement
  // `name`, preparing it on first use in this session.
  absl::Status ExecutePrepared(const std::string& name, const std::string& sql, const PostgresRow& params,
                               const std::string& what);
  // NotFound naming the table and server if `table` does not exist.
  absl::Status RequireTable(const std::string& table);
  // The SQLSTATE of the last failed statement ("" if none failed).
  const std::string& last_sqlstate() const;

 private:
  struct Impl;
  explicit PostgresSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// What a batch writer writes: INSERT INTO table (columns) VALUES ..., with
// ON CONFLICT (key_columns) DO UPDATE if key_columns is not empty.
struct PostgresInsertSpec {
  std::string table;
  std::vector<std::string> columns;
  std::vector<std::string> key_columns;  // each one of columns
  int batch_size = 500;                  // rows per statement
};

// Collects rows and writes them as multi-row INSERT statements, batch_size
// rows each (a full batch reuses one server-side prepared statement). With
// key columns, a row replaces a buffered row with the same key: ON CONFLICT
// cannot update one row twice in a statement, and the last value must win.
class PostgresBatchWriter {
 public:
  // Checks the spec (InvalidArgument naming what is wrong).
  static absl::StatusOr<std::unique_ptr<PostgresBatchWriter>> Create(PostgresInsertSpec spec);
  ~PostgresBatchWriter();

  // Buffers `row`; writes the batch through `session` once it is full.
  // Returns the number of rows written now (0 while buffering).
  absl::StatusOr<int64_t> Add(PostgresSession& session, PostgresRow row);
  // Writes what is buffered; returns the number of rows written.
  absl::StatusOr<int64_t> Flush(PostgresSession& session);
  // Drops what is buffered (after a rollback).
  void Clear();

 private:
  struct Impl;
  explicit PostgresBatchWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The recovery of PostgresExactlyOnceSink: rolls back the transactions this
// subtask is responsible for that no restored checkpoint needs. Global ids are
// "<prefix>:<subtask>:<checkpoint>"; subtask `subtask` of `parallelism` rolls
// back those of old subtasks s with s % parallelism == subtask and a
// checkpoint above `restored_checkpoint` (0: a fresh start, everything). Those
// can never be pending in the restored state, and only this subtask prepares
// ids of its own index after its recovery, so no subtask rolls back what
// another must commit. Returns the number rolled back.
absl::StatusOr<int64_t> RollBackAbandonedTransactions(PostgresSession& session, const std::string& prefix, int subtask,
                                                      int parallelism, int64_t restored_checkpoint,
                                                      const std::string& table);

// COMMIT PREPARED / ROLLBACK PREPARED; a transaction that no longer exists
// counts as done. Returns whether it existed.
absl::StatusOr<bool> FinishPrepared(PostgresSession& session, const std::string& gid, bool commit,
                                    const std::string& table);

// InvalidArgument unless `prefix` can start a global transaction id.
absl::Status CheckTransactionPrefix(const std::string& prefix);

// What PostgresTableSource reads.
struct PostgresScanSpec {
  std::string table;
  std::vector<std::string> columns;
  std::string filter;            // SQL condition, "" for all rows
  std::string partition_column;  // numeric; "" reads the table in one split
  int num_splits = 1;
  std::optional<int64_t> lower_bound, upper_bound;  // unset: min/max of the column
  std::vector<std::string> order_by;                // empty: every selected column
  int fetch_size = 1000;
};

// One range of a table scan: `predicate` selects its rows (stored in
// checkpoints, so a restore needs no new planning); `emitted` rows of it, in
// the scan's order, were emitted already.
struct PostgresSplit {
  std::string predicate;
  int64_t emitted = 0;
};
EDDY_FIELDS(PostgresSplit, predicate, emitted);

// Checks the spec and the table, and cuts the scan into splits (at most
// num_splits; one without a partition column).
absl::StatusOr<std::vector<PostgresSplit>> PlanSplits(PostgresSession& session, const PostgresScanSpec& spec);

// Reads the rows of `split` after the first split.emitted ones, in a
// deterministic order, calling `emit` for each until it returns false.
absl::Status ReadSplit(PostgresSession& session, const PostgresScanSpec& spec, const PostgresSplit& split,
                       const std::function<bool(const PostgresRow&)>& emit);

// Throws std::runtime_error with the status's message (user functions fail
// their task by throwing).
void ThrowIfError(const absl::Status& status);
template <class V>
V ValueOrThrow(absl::StatusOr<V> value) {
  ThrowIfError(value.status());
  return std::move(value).value();
}

}  // namespace internal

// ---- PostgresUpsertSink ----
//
// Writes every record as a row, inserting it or updating the row with the same
// key: INSERT ... ON CONFLICT (key columns) DO UPDATE, batch_size rows per
// statement. Writing a key's latest value again changes nothing, so after a
// restore the replayed records leave the table as a failure-free run would:
// exactly-once for keyed upserts. The key columns need a unique index or
// primary key. Buffered rows are written when the batch is full, at every
// checkpoint, at the end of the input and on close. Counts the rows written
// in the "numRowsWritten" counter.
template <class T>
class PostgresUpsertSink : public RichSinkFunction<T>, public CheckpointedFunction {
 public:
  using RowFunction = std::function<PostgresRow(const T&)>;

  // `to_row` gives one value per column of `columns`, in that order.
  PostgresUpsertSink(PostgresConnectionOptions connection, std::string table, std::vector<std::string> columns,
                     std::vector<std::string> key_columns, RowFunction to_row, int batch_size = 500)
      : connection_(std::move(connection)),
        spec_{std::move(table), std::move(columns), std::move(key_columns), batch_size},
        to_row_(std::move(to_row)) {
    if (spec_.key_columns.empty()) {
      throw std::invalid_argument("PostgresUpsertSink for table '" + spec_.table + "' needs key columns");
    }
  }
  // A copy (one per parallel instance) shares no connection.
  PostgresUpsertSink(const PostgresUpsertSink& other)
      : connection_(other.connection_), spec_(other.spec_), to_row_(other.to_row_) {}
  PostgresUpsertSink& operator=(const PostgresUpsertSink&) = delete;

  void open(RuntimeContext& context) override {
    rows_written_ = &context.getMetricGroup().counter("numRowsWritten");
    writer_ = internal::ValueOrThrow(internal::PostgresBatchWriter::Create(spec_));
    session_ = internal::ValueOrThrow(internal::PostgresSession::Connect(connection_));
    internal::ThrowIfError(session_->RequireTable(spec_.table));
  }
  void invoke(const T& value) override { Count(internal::ValueOrThrow(writer_->Add(*session_, to_row_(value)))); }
  void initializeState(FunctionInitializationContext&) override {}
  // Everything before the barrier must be in the table before the checkpoint
  // counts as taken.
  void snapshotState(const FunctionSnapshotContext&) override { Flush(); }
  void finish() override { Flush(); }
  void close() override {
    if (session_ != nullptr && writer_ != nullptr) Flush();
    session_.reset();
  }

 private:
  void Flush() { Count(internal::ValueOrThrow(writer_->Flush(*session_))); }
  void Count(int64_t rows) {
    if (rows > 0 && rows_written_ != nullptr) rows_written_->inc(rows);
  }

  PostgresConnectionOptions connection_;
  internal::PostgresInsertSpec spec_;
  RowFunction to_row_;
  std::unique_ptr<internal::PostgresSession> session_;
  std::unique_ptr<internal::PostgresBatchWriter> writer_;
  Counter* rows_written_ = nullptr;
};

// ---- PostgresExactlyOnceSink ----

// A transaction of PostgresExactlyOnceSink, as checkpoints keep it.
struct PostgresTransaction {
  std::string gid;  // set once prepared; empty: nothing was written
  int64_t rows = 0;
  // Pre-committed outside a checkpoint (the end of a job without
  // checkpointing): still open in the session, committed there directly.
  bool commit_in_session = false;
};
EDDY_FIELDS(PostgresTransaction, gid, rows, commit_in_session);

// Appends every record as a row (INSERT, batch_size rows per statement), with
// exactly-once results through checkpoints: the rows of one checkpoint
// interval go into one database transaction, which the checkpoint prepares
// (PREPARE TRANSACTION '<prefix>:<subtask>:<checkpoint>') and its completion
// commits (COMMIT PREPARED). On restore, the prepared transactions of the
// restored checkpoint are committed and those prepared after it are rolled
// back, so no prepared transaction stays behind. `transaction_prefix` must be
// unique to this sink among everything writing to the database, and the
// server needs max_prepared_transactions > 0. An interval without records
// prepares nothing. Counts committed rows in "numRowsWritten".
template <class T>
class PostgresExactlyOnceSink : public TwoPhaseCommitSinkFunction<T, PostgresTransaction> {
  using Base = TwoPhaseCommitSinkFunction<T, PostgresTransaction>;

 public:
  using RowFunction = std::function<PostgresRow(const T&)>;
  using Base::invoke;  // invoke(const T&), hidden by the transaction hook below

  PostgresExactlyOnceSink(PostgresConnectionOptions connection, std::string table, std::vector<std::string> columns,
                          std::string transaction_prefix, RowFunction to_row, int batch_size = 500)
      : connection_(std::move(connection)),
        spec_{std::move(table), std::move(columns), {}, batch_size},
        prefix_(std::move(transaction_prefix)),
        to_row_(std::move(to_row)) {
    internal::ThrowIfError(internal::CheckTransactionPrefix(prefix_));
  }
  PostgresExactlyOnceSink(const PostgresExactlyOnceSink& other)
      : Base(other),
        connection_(other.connection_),
        spec_(other.spec_),
        prefix_(other.prefix_),
        to_row_(other.to_row_) {}

  // Connects, rolls back what the restored checkpoint does not need, then lets
  // the base class commit the restored pending transactions.
  void initializeState(FunctionInitializationContext& context) override {
    RuntimeContext& runtime = this->getRuntimeContext();
    subtask_ = runtime.getIndexOfThisSubtask();
    rows_committed_ = &runtime.getMetricGroup().counter("numRowsWritten");
    writer_ = internal::ValueOrThrow(internal::PostgresBatchWriter::Create(spec_));
    data_ = internal::ValueOrThrow(internal::PostgresSession::Connect(connection_));
    control_ = internal::ValueOrThrow(internal::PostgresSession::Connect(connection_));
    internal::ThrowIfError(data_->RequireTable(spec_.table));
    checkpoint_state_ =
        &context.getOperatorStateStore().getUnionListState(ListStateDescriptor<int64_t>(kCheckpointStateName));
    int64_t restored_checkpoint = 0;
    if (context.isRestored()) {
      for (int64_t id : checkpoint_state_->get()) restored_checkpoint = std::max(restored_checkpoint, id);
    }
    internal::ValueOrThrow(internal::RollBackAbandonedTransactions(
        *control_, prefix_, subtask_, runtime.getNumberOfParallelSubtasks(), restored_checkpoint, spec_.table));
    Base::initializeState(context);
  }

  // Ends the transactions as the base class says, then disconnects (an
  // unfinished transaction of the session ends with it).
  void close() override {
    Base::close();
    data_.reset();
    control_.reset();
  }

  void snapshotState(const FunctionSnapshotContext& context) override {
    preparing_checkpoint_ = context.getCheckpointId();
    checkpoint_state_->update({context.getCheckpointId()});
    Base::snapshotState(context);
    preparing_checkpoint_.reset();
  }

 protected:
  PostgresTransaction beginTransaction() override { return PostgresTransaction{}; }

  void invoke(PostgresTransaction& txn, const T& value) override {
    if (!in_transaction_) {
      internal::ThrowIfError(data_->Execute("BEGIN", "BEGIN for table '" + spec_.table + "'"));
      in_transaction_ = true;
    }
    txn.rows += internal::ValueOrThrow(writer_->Add(*data_, to_row_(value)));
  }

  void preCommit(PostgresTransaction& txn) override {
    if (!in_transaction_) return;  // no records: nothing to prepare
    txn.rows += internal::ValueOrThrow(writer_->Flush(*data_));
    if (!preparing_checkpoint_) {
      txn.commit_in_session = true;  // close() commits it right away
      return;
    }
    txn.gid = prefix_ + ":" + std::to_string(subtask_) + ":" + std::to_string(*preparing_checkpoint_);
    internal::ThrowIfError(
        data_->Execute("PREPARE TRANSACTION '" + txn.gid + "'", "PREPARE TRANSACTION for table '" + spec_.table + "'"));
    in_transaction_ = false;
  }

  void commit(PostgresTransaction& txn) override {
    if (txn.commit_in_session) {
      internal::ThrowIfError(data_->Execute("COMMIT", "COMMIT for table '" + spec_.table + "'"));
      in_transaction_ = false;
      txn.commit_in_session = false;
      rows_committed_->inc(txn.rows);
    } else if (!txn.gid.empty() &&
               internal::ValueOrThrow(internal::FinishPrepared(*control_, txn.gid, true, spec_.table))) {
      rows_committed_->inc(txn.rows);
    }
  }

  void abort(PostgresTransaction& txn) override {
    if (!txn.gid.empty()) {
      internal::ValueOrThrow(internal::FinishPrepared(*control_, txn.gid, false, spec_.table));
    } else if (in_transaction_) {
      writer_->Clear();
      in_transaction_ = false;
      internal::ThrowIfError(data_->Execute("ROLLBACK", "ROLLBACK for table '" + spec_.table + "'"));
    }
  }

  // The restored current transaction was never prepared: it ended with the
  // session that wrote it.
  void recoverAndAbort(PostgresTransaction&) override {}

 private:
  static constexpr const char* kCheckpointStateName = "postgres-exactly-once-checkpoint";

  PostgresConnectionOptions connection_;
  internal::PostgresInsertSpec spec_;
  std::string prefix_;
  RowFunction to_row_;
  int subtask_ = 0;
  std::unique_ptr<internal::PostgresSession> data_;     // the open transaction's
  std::unique_ptr<internal::PostgresSession> control_;  // COMMIT/ROLLBACK PREPARED need no open transaction
  std::unique_ptr<internal::PostgresBatchWriter> writer_;
  bool in_transaction_ = false;                  // data_ is inside BEGIN
  std::optional<int64_t> preparing_checkpoint_;  // set while snapshotState runs
  ListState<int64_t>* checkpoint_state_ = nullptr;
  Counter* rows_committed_ = nullptr;
};

// ---- PostgresTableSource ----
//
// Reads SELECT <columns> FROM <table> [WHERE <filter>] once (bounded) and
// emits each row through `from_row`. With partitionColumn(column, n) the scan
// is cut into n ranges of that numeric column (between the given bounds, or
// its minimum and maximum; rows where it is NULL belong to the first range),
// dealt round-robin to the subtasks; without one, subtask 0 reads everything.
// Each range is read in a deterministic order (orderBy, by default every
// selected column), so a checkpoint stores the ranges not finished and how
// many rows of each were emitted, and a restore — also at another parallelism
// — neither loses nor repeats rows, provided the table does not change
// meanwhile.
template <class T>
class PostgresTableSource : public RichParallelSourceFunction<T>, public CheckpointedFunction {
 public:
  using RowMapper = std::function<T(const PostgresRow&)>;

  PostgresTableSource(PostgresConnectionOptions connection, std::string table, std::vector<std::string> columns,
                      RowMapper from_row)
      : connection_(std::move(connection)), from_row_(std::move(from_row)) {
    spec_.table = std::move(table);
    spec_.columns = std::move(columns);
  }
  PostgresTableSource(const PostgresTableSource& other)
      : connection_(other.connection_), spec_(other.spec_), from_row_(other.from_row_) {}
  PostgresTableSource& operator=(const PostgresTableSource&) = delete;

  // Only rows for which the SQL condition `filter` holds.
  PostgresTableSource& where(std::string filter) {
    spec_.filter = std::move(filter);
    return *this;
  }
  // Splits the scan into `num_splits` ranges of the numeric `column`.
  PostgresTableSource& partitionColumn(std::string column, int num_splits) {
    spec_.partition_column = std::move(column);
    spec_.num_splits = num_splits;
    return *this;
  }
  // The partition column's range (inclusive) instead of its min and max;
  // values outside go to the first or last split.
  PostgresTableSource& partitionBounds(int64_t lower, int64_t upper) {
    spec_.lower_bound = lower;
    spec_.upper_bound = upper;
    return *this;
  }
  // The order rows are read in within a split; must be deterministic (e.g. a key).
  PostgresTableSource& orderBy(std::vector<std::string> columns) {
    spec_.order_by = std::move(columns);
    return *this;
  }

  void initializeState(FunctionInitializationContext& context) override {
    state_ = &context.getOperatorStateStore().getListState(ListStateDescriptor<internal::PostgresSplit>(kStateName));
    session_ = internal::ValueOrThrow(internal::PostgresSession::Connect(connection_));
    splits_.clear();
    current_ = 0;
    if (context.isRestored()) {
      splits_ = state_->get();  // may be empty: every split went elsewhere or is done
      return;
    }
    const std::vector<internal::PostgresSplit> all = internal::ValueOrThrow(internal::PlanSplits(*session_, spec_));
    RuntimeContext& runtime = this->getRuntimeContext();
    const size_t parallelism = static_cast<size_t>(runtime.getNumberOfParallelSubtasks());
    for (size_t i = static_cast<size_t>(runtime.getIndexOfThisSubtask()); i < all.size(); i += parallelism) {
      splits_.push_back(all[i]);
    }
  }

  void snapshotState(const FunctionSnapshotContext&) override {
    state_->update(
        std::vector<internal::PostgresSplit>(splits_.begin() + static_cast<std::ptrdiff_t>(current_), splits_.end()));
  }

  void run(typename SourceFunction<T>::SourceContext& ctx) override {
    for (; current_ < splits_.size(); ++current_) {
      internal::PostgresSplit& split = splits_[current_];
      bool stopped = false;
      internal::ThrowIfError(internal::ReadSplit(*session_, spec_, split, [&](const PostgresRow& row) {
        if (!ctx.isRunning() || cancelled_.load()) {
          stopped = true;
          return false;
        }
        ctx.collect(from_row_(row));  // a snapshot in here must not count this row
        ++split.emitted;
        return true;
      }));
      if (stopped) return;
    }
  }
  void cancel() override { cancelled_.store(true); }
  void close() override { session_.reset(); }

 private:
  static constexpr const char* kStateName = "postgres-table-splits";

  PostgresConnectionOptions connection_;
  internal::PostgresScanSpec spec_;
  RowMapper from_row_;
  std::unique_ptr<internal::PostgresSession> session_;
  std::vector<internal::PostgresSplit> splits_;  // this subtask's, in reading order
  size_t current_ = 0;                           // splits_[0, current_) are read
  ListState<internal::PostgresSplit>* state_ = nullptr;
  std::atomic<bool> cancelled_{false};
};

}  // namespace eddy::connectors
