// The libpq side of the PostgreSQL connectors: sessions, batched inserts and
// upserts, prepared-transaction recovery and split planning and reading for
// the table source. The templates in eddy/connectors/postgres.h only convert
// between user types and rows.
#include "eddy/connectors/postgres.h"

#include <libpq-fe.h>

#include <charconv>
#include <set>
#include <thread>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "eddy/status.h"

namespace eddy::connectors::internal {

namespace {

// SQLSTATE undefined_object: COMMIT/ROLLBACK PREPARED of an unknown id.
constexpr const char* kUndefinedObject = "42704";
// Bind parameters per statement: the protocol counts them in 16 bits.
constexpr int kMaxParameters = 65535;

std::string TrimmedMessage(const char* message) {
  std::string text = message == nullptr ? "" : message;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// Parameter pointers for libpq: nullptr for NULL.
std::vector<const char*> ParameterValues(const PostgresRow& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return values;
}

std::string Quoted(const std::string& text) { return absl::StrCat("'", text, "'"); }

}  // namespace

// ---- PostgresSession ----

struct PostgresSession::Impl {
  struct ConnectionDeleter {
    void operator()(PGconn* connection) const { PQfinish(connection); }
  };
  std::unique_ptr<PGconn, ConnectionDeleter> connection;
  std::string endpoint;
  std::string last_sqlstate;
  std::set<std::string> prepared;  // statement names prepared in this session

  // OK for a successful command or query; otherwise an error naming `what`.
  absl::Status Check(const Result& result, const std::string& what) {
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      last_sqlstate.clear();
      return absl::OkStatus();
    }
    const char* sqlstate = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
    last_sqlstate = sqlstate == nullptr ? "" : sqlstate;
    const std::string message =
        TrimmedMessage(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(connection.get()));
    return absl::InternalError(
        absl::StrCat(what, " failed at ", endpoint, ": ",
                     message.empty() ? TrimmedMessage(PQerrorMessage(connection.get())) : message));
  }
};

PostgresSession::PostgresSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresSession::~PostgresSession() = default;

absl::StatusOr<std::unique_ptr<PostgresSession>> PostgresSession::Connect(const PostgresConnectionOptions& options) {
  const std::string endpoint = absl::StrCat(options.host, ":", options.port, "/", options.database);
  if (options.connect_attempts < 1) {
    return absl::InvalidArgumentError(absl::StrCat("connecting to PostgreSQL at ", endpoint,
                                                   ": connect_attempts must be at least 1, not ",
                                                   options.connect_attempts));
  }
  const std::string port = std::to_string(options.port);
  const std::string timeout = std::to_string(options.connect_timeout_seconds);
  std::vector<const char*> keys = {"host", "port", "dbname", "connect_timeout", "application_name"};
  std::vector<const char*> values = {options.host.c_str(), port.c_str(), options.database.c_str(), timeout.c_str(),
                                     "eddy"};
  if (!options.user.empty()) {
    keys.push_back("user");
    values.push_back(options.user.c_str());
  }
  if (!options.password.empty()) {
    keys.push_back("password");
    values.push_back(options.password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);

  std::chrono::milliseconds backoff = options.connect_backoff;
  std::string last_error;
  for (int attempt = 1; attempt <= options.connect_attempts; ++attempt) {
    if (attempt > 1) {
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
    auto impl = std::make_unique<Impl>();
    impl->connection.reset(PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/0));
    if (impl->connection && PQstatus(impl->connection.get()) == CONNECTION_OK) {
      impl->endpoint = endpoint;
      return std::unique_ptr<PostgresSession>(new PostgresSession(std::move(impl)));
    }
    last_error = impl->connection ? TrimmedMessage(PQerrorMessage(impl->connection.get())) : "out of memory";
  }
  return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL at ", endpoint, " after ",
                                             options.connect_attempts, " attempt(s): ", last_error));
}

const std::string& PostgresSession::endpoint() const { return impl_->endpoint; }
const std::string& PostgresSession::last_sqlstate() const { return impl_->last_sqlstate; }

absl::Status PostgresSession::Execute(const std::string& sql, const std::string& what) {
  Result result(PQexec(impl_->connection.get(), sql.c_str()));
  return impl_->Check(result, what);
}

absl::StatusOr<std::vector<PostgresRow>> PostgresSession::Query(const std::string& sql, const PostgresRow& params,
                                                                const std::string& what) {
  const std::vector<const char*> values = ParameterValues(params);
  Result result(PQexecParams(impl_->connection.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, /*resultFormat=*/0));
  RETURN_IF_ERROR(impl_->Check(result, what));
  std::vector<PostgresRow> rows(static_cast<size_t>(PQntuples(result.get())));
  const int columns = PQnfields(result.get());
  for (int r = 0; r < static_cast<int>(rows.size()); ++r) {
    PostgresRow& row = rows[static_cast<size_t>(r)];
    row.reserve(static_cast<size_t>(columns));
    for (int c = 0; c < columns; ++c) {
      if (PQgetisnull(result.get(), r, c)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(
            std::string(PQgetvalue(result.get(), r, c), static_cast<size_t>(PQgetlength(result.get(), r, c))));
      }
    }
  }
  return rows;
}

absl::Status PostgresSession::ExecutePrepared(const std::string& name, const std::string& sql,
                                              const PostgresRow& params, const std::string& what) {
  if (!impl_->prepared.count(name)) {
    Result prepared(
        PQprepare(impl_->connection.get(), name.c_str(), sql.c_str(), static_cast<int>(params.size()), nullptr));
    RETURN_IF_ERROR(impl_->Check(prepared, what));
    impl_->prepared.insert(name);
  }
  const std::vector<const char*> values = ParameterValues(params);
  Result result(PQexecPrepared(impl_->connection.get(), name.c_str(), static_cast<int>(values.size()), values.data(),
                               nullptr, nullptr, /*resultFormat=*/0));
  return impl_->Check(result, what);
}

absl::Status PostgresSession::RequireTable(const std::string& table) {
  ASSIGN_OR_RETURN(std::vector<PostgresRow> rows,
                   Query("SELECT to_regclass($1)", {table}, absl::StrCat("looking up table ", Quoted(table))));
  if (rows.empty() || rows[0].empty() || !rows[0][0]) {
    return absl::NotFoundError(absl::StrCat("table ", Quoted(table), " does not exist at ", endpoint()));
  }
  return absl::OkStatus();
}

// ---- PostgresBatchWriter ----

struct PostgresBatchWriter::Impl {
  PostgresInsertSpec spec;
  std::vector<size_t> key_positions;  // of the key columns within spec.columns
  std::string statement_kind;         // "INSERT" or "upsert", for errors
  std::vector<PostgresRow> batch;
  std::unordered_map<std::string, size_t> batch_index_by_key;  // upserts only
  std::string full_batch_statement;                            // prepared once per session
  std::string statement_name;

  // INSERT for `rows` rows, with the ON CONFLICT clause of an upsert.
  std::string Sql(size_t rows) const {
    const size_t width = spec.columns.size();
    std::string sql = absl::StrCat("INSERT INTO ", spec.table, " (", absl::StrJoin(spec.columns, ", "), ") VALUES ");
    for (size_t r = 0; r < rows; ++r) {
      absl::StrAppend(&sql, r == 0 ? "(" : ", (");
      for (size_t c = 0; c < width; ++c) absl::StrAppend(&sql, c == 0 ? "$" : ", $", r * width + c + 1);
      sql += ')';
    }
    if (spec.key_columns.empty()) return sql;
    absl::StrAppend(&sql, " ON CONFLICT (", absl::StrJoin(spec.key_columns, ", "), ")");
    std::vector<std::string> updates;
    for (const std::string& column : spec.columns) {
      if (std::find(spec.key_columns.begin(), spec.key_columns.end(), column) == spec.key_columns.end()) {
        updates.push_back(absl::StrCat(column, " = EXCLUDED.", column));
      }
    }
    if (updates.empty()) return sql + " DO NOTHING";
    return absl::StrCat(sql, " DO UPDATE SET ", absl::StrJoin(updates, ", "));
  }

  // The key of `row` as one string (length-prefixed values, NULL marked).
  std::string Key(const PostgresRow& row) const {
    std::string key;
    for (size_t position : key_positions) {
      const auto& value = row[position];
      if (!value) {
        key += 'N';
        continue;
      }
      absl::StrAppend(&key, "V", value->size(), ":", *value);
    }
    return key;
  }
};

PostgresBatchWriter::PostgresBatchWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresBatchWriter::~PostgresBatchWriter() = default;

absl::StatusOr<std::unique_ptr<PostgresBatchWriter>> PostgresBatchWriter::Create(PostgresInsertSpec spec) {
  if (spec.table.empty()) return absl::InvalidArgumentError("PostgreSQL sink: the table name is empty");
  const std::string where = absl::StrCat("PostgreSQL sink for table ", Quoted(spec.table), ": ");
  if (spec.columns.empty()) return absl::InvalidArgumentError(where + "no columns given");
  if (spec.batch_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat(where, "batch size must be at least 1, not ", spec.batch_size));
  }
  auto impl = std::make_unique<Impl>();
  for (const std::string& key : spec.key_columns) {
    auto it = std::find(spec.columns.begin(), spec.columns.end(), key);
    if (it == spec.columns.end()) {
      return absl::InvalidArgumentError(absl::StrCat(where, "key column ", Quoted(key), " is not one of the columns (",
                                                     absl::StrJoin(spec.columns, ", "), ")"));
    }
    impl->key_positions.push_back(static_cast<size_t>(it - spec.columns.begin()));
  }
  spec.batch_size = std::min(spec.batch_size, kMaxParameters / static_cast<int>(spec.columns.size()));
  impl->statement_kind = spec.key_columns.empty() ? "INSERT" : "upsert (INSERT ... ON CONFLICT)";
  impl->spec = std::move(spec);
  impl->full_batch_statement = impl->Sql(static_cast<size_t>(impl->spec.batch_size));
  impl->statement_name = absl::StrCat("eddy_batch_", std::hash<std::string>()(impl->full_batch_statement));
  impl->batch.reserve(static_cast<size_t>(impl->spec.batch_size));
  return std::unique_ptr<PostgresBatchWriter>(new PostgresBatchWriter(std::move(impl)));
}

absl::StatusOr<int64_t> PostgresBatchWriter::Add(PostgresSession& session, PostgresRow row) {
  Impl& w = *impl_;
  if (row.size() != w.spec.columns.size()) {
    return absl::InvalidArgumentError(absl::StrCat("PostgreSQL sink for table ", Quoted(w.spec.table), ": a row has ",
                                                   row.size(), " values for ", w.spec.columns.size(), " columns (",
                                                   absl::StrJoin(w.spec.columns, ", "), ")"));
  }
  if (!w.key_positions.empty()) {
    auto [it, inserted] = w.batch_index_by_key.try_emplace(w.Key(row), w.batch.size());
    if (!inserted) {
      w.batch[it->second] = std::move(row);  // the last value of a key wins
      return 0;
    }
  }
  w.batch.push_back(std::move(row));
  if (w.batch.size() < static_cast<size_t>(w.spec.batch_size)) return 0;
  return Flush(session);
}

absl::StatusOr<int64_t> PostgresBatchWriter::Flush(PostgresSession& session) {
  Impl& w = *impl_;
  if (w.batch.empty()) return 0;
  PostgresRow params;
  params.reserve(w.batch.size() * w.spec.columns.size());
  for (PostgresRow& row : w.batch) {
    for (auto& value : row) params.push_back(std::move(value));
  }
  const std::string what =
      absl::StrCat(w.statement_kind, " of ", w.batch.size(), " rows into table ", Quoted(w.spec.table));
  const int64_t rows = static_cast<int64_t>(w.batch.size());
  Clear();
  if (rows == w.spec.batch_size) {
    RETURN_IF_ERROR(session.ExecutePrepared(w.statement_name, w.full_batch_statement, params, what));
  } else {
    RETURN_IF_ERROR(session.Query(w.Sql(static_cast<size_t>(rows)), params, what).status());
  }
  return rows;
}

void PostgresBatchWriter::Clear() {
  impl_->batch.clear();
  impl_->batch_index_by_key.clear();
}

// ---- Prepared transactions ----

absl::Status CheckTransactionPrefix(const std::string& prefix) {
  if (prefix.empty() || prefix.size() > 150) {
    return absl::InvalidArgumentError(
        absl::StrCat("PostgresExactlyOnceSink: the transaction prefix must have 1 to 150 "
                     "characters, not ",
                     prefix.size()));
  }
  for (char c : prefix) {
    if (c < 0x20 || c > 0x7e || c == '\'' || c == '\\') {
      return absl::InvalidArgumentError(
          absl::StrCat("PostgresExactlyOnceSink: the transaction prefix ", Quoted(prefix),
                       " may hold only printable ASCII characters other than quotes and backslashes"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> FinishPrepared(PostgresSession& session, const std::string& gid, bool commit,
                                    const std::string& table) {
  const char* statement = commit ? "COMMIT PREPARED" : "ROLLBACK PREPARED";
  absl::Status status = session.Execute(absl::StrCat(statement, " ", Quoted(gid)),
                                        absl::StrCat(statement, " ", Quoted(gid), " for table ", Quoted(table)));
  if (status.ok()) return true;
  if (session.last_sqlstate() == kUndefinedObject) return false;  // finished before
  return status;
}

absl::StatusOr<int64_t> RollBackAbandonedTransactions(PostgresSession& session, const std::string& prefix, int subtask,
                                                      int parallelism, int64_t restored_checkpoint,
                                                      const std::string& table) {
  const std::string head = prefix + ":";
  ASSIGN_OR_RETURN(std::vector<PostgresRow> rows,
                   session.Query("SELECT gid FROM pg_prepared_xacts "
                                 "WHERE database = current_database() AND left(gid, length($1)) = $1",
                                 {head}, absl::StrCat("listing prepared transactions for table ", Quoted(table))));
  int64_t rolled_back = 0;
  for (const PostgresRow& row : rows) {
    if (row.empty() || !row[0]) continue;
    const std::string& gid = *row[0];
    // "<subtask>:<checkpoint>" after the prefix; anything else belongs to
    // another sink whose prefix starts like this one.
    std::vector<std::string> parts = absl::StrSplit(gid.substr(head.size()), ':');
    if (parts.size() != 2) continue;
    int64_t old_subtask = 0, checkpoint = 0;
    const auto a = std::from_chars(parts[0].data(), parts[0].data() + parts[0].size(), old_subtask);
    const auto b = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), checkpoint);
    if (a.ec != std::errc() || a.ptr != parts[0].data() + parts[0].size() || b.ec != std::errc() ||
        b.ptr != parts[1].data() + parts[1].size() || old_subtask < 0) {
      continue;
    }
    if (old_subtask % parallelism != subtask || checkpoint <= restored_checkpoint) continue;
    ASSIGN_OR_RETURN(bool existed, FinishPrepared(session, gid, /*commit=*/false, table));
    if (existed) ++rolled_back;
  }
  return rolled_back;
}

// ---- Table scans ----

namespace {

std::string ScanWhere(const PostgresScanSpec& spec, const std::string& predicate) {
  std::vector<std::string> conditions;
  if (!spec.filter.empty()) conditions.push_back(absl::StrCat("(", spec.filter, ")"));
  if (!predicate.empty()) conditions.push_back(absl::StrCat("(", predicate, ")"));
  if (conditions.empty()) return "";
  return absl::StrCat(" WHERE ", absl::StrJoin(conditions, " AND "));
}

absl::StatusOr<int64_t> ParseBound(const std::optional<std::string>& text, const std::string& what) {
  int64_t value = 0;
  if (!text) return absl::InternalError(what + ": no value");
  const auto parsed = std::from_chars(text->data(), text->data() + text->size(), value);
  if (parsed.ec != std::errc() || parsed.ptr != text->data() + text->size()) {
    return absl::InternalError(absl::StrCat(what, ": ", Quoted(*text), " is not a 64-bit integer"));
  }
  return value;
}

}  // namespace

absl::StatusOr<std::vector<PostgresSplit>> PlanSplits(PostgresSession& session, const PostgresScanSpec& spec) {
  const std::string where = absl::StrCat("PostgresTableSource for table ", Quoted(spec.table), ": ");
  if (spec.table.empty()) return absl::InvalidArgumentError("PostgresTableSource: the table name is empty");
  if (spec.columns.empty()) return absl::InvalidArgumentError(where + "no columns given");
  if (spec.num_splits < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "the number of splits must be at least 1, not ", spec.num_splits));
  }
  if (spec.fetch_size < 1) return absl::InvalidArgumentError(where + "the fetch size must be at least 1");
  if (spec.lower_bound.has_value() != spec.upper_bound.has_value() ||
      (spec.lower_bound && *spec.lower_bound > *spec.upper_bound)) {
    return absl::InvalidArgumentError(where + "partition bounds need a lower bound not above the upper bound");
  }
  RETURN_IF_ERROR(session.RequireTable(spec.table));
  if (spec.partition_column.empty() || spec.num_splits == 1) return std::vector<PostgresSplit>{PostgresSplit{}};

  const std::string& column = spec.partition_column;
  int64_t lower = 0, upper = 0;
  if (spec.lower_bound) {
    lower = *spec.lower_bound;
    upper = *spec.upper_bound;
  } else {
    const std::string what =
        absl::StrCat("reading the range of partition column ", Quoted(column), " of table ", Quoted(spec.table));
    ASSIGN_OR_RETURN(std::vector<PostgresRow> rows,
                     session.Query(absl::StrCat("SELECT floor(min(", column, "))::bigint, ceil(max(", column,
                                                "))::bigint FROM ", spec.table, ScanWhere(spec, "")),
                                   {}, what));
    if (rows.empty() || !rows[0][0]) return std::vector<PostgresSplit>{PostgresSplit{}};  // no values to split by
    ASSIGN_OR_RETURN(lower, ParseBound(rows[0][0], what));
    ASSIGN_OR_RETURN(upper, ParseBound(rows[0][1], what));
  }
  // Boundaries b_1 < ... < b_{n-1} cut [lower, upper] evenly; the outer splits
  // are open-ended, so values outside the bounds (and fractions) belong somewhere.
  std::vector<int64_t> boundaries;
  const __int128 span = static_cast<__int128>(upper) - lower + 1;
  for (int k = 1; k < spec.num_splits; ++k) {
    const int64_t b = static_cast<int64_t>(lower + span * k / spec.num_splits);
    if (b > lower && (boundaries.empty() || b > boundaries.back())) boundaries.push_back(b);
  }
  if (boundaries.empty()) return std::vector<PostgresSplit>{PostgresSplit{}};
  std::vector<PostgresSplit> splits;
  splits.push_back({absl::StrCat(column, " < ", boundaries.front(), " OR ", column, " IS NULL"), 0});
  for (size_t i = 0; i + 1 < boundaries.size(); ++i) {
    splits.push_back({absl::StrCat(column, " >= ", boundaries[i], " AND ", column, " < ", boundaries[i + 1]), 0});
  }
  splits.push_back({absl::StrCat(column, " >= ", boundaries.back()), 0});
  return splits;
}

absl::Status ReadSplit(PostgresSession& session, const PostgresScanSpec& spec, const PostgresSplit& split,
                       const std::function<bool(const PostgresRow&)>& emit) {
  std::string order;
  if (spec.order_by.empty()) {
    for (size_t i = 1; i <= spec.columns.size(); ++i) absl::StrAppend(&order, i == 1 ? "" : ", ", i);
  } else {
    order = absl::StrJoin(spec.order_by, ", ");
  }
  const std::string select =
      absl::StrCat("SELECT ", absl::StrJoin(spec.columns, ", "), " FROM ", spec.table, ScanWhere(spec, split.predicate),
                   " ORDER BY ", order, split.emitted > 0 ? absl::StrCat(" OFFSET ", split.emitted) : "");
  const std::string what = absl::StrCat("SELECT from table ", Quoted(spec.table));
  RETURN_IF_ERROR(session.Execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", what + " (BEGIN)"));
  // Any early return leaves the read-only transaction: roll it back.
  auto end = [&session, &what](absl::Status status) {
    absl::Status rolled_back = session.Execute("ROLLBACK", what + " (ROLLBACK)");
    return status.ok() ? rolled_back : status;
  };
  absl::Status declared = session.Execute("DECLARE eddy_scan NO SCROLL CURSOR FOR " + select, what);
  if (!declared.ok()) return end(declared);
  const std::string fetch = absl::StrCat("FETCH FORWARD ", spec.fetch_size, " FROM eddy_scan");
  while (true) {
    absl::StatusOr<std::vector<PostgresRow>> rows = session.Query(fetch, {}, what);
    if (!rows.ok()) return end(rows.status());
    for (const PostgresRow& row : *rows) {
      if (!emit(row)) return end(absl::OkStatus());
    }
    if (rows->size() < static_cast<size_t>(spec.fetch_size)) break;
  }
  return end(absl::OkStatus());
}

void ThrowIfError(const absl::Status& status) {
  if (!status.ok()) throw std::runtime_error(std::string(status.message()));
}

}  // namespace eddy::connectors::internal
