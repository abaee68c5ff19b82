// State backends for the runtime: CreateKeyedStateBackend() picks the keyed
// backend of an operator instance from the configuration (state.backend.type:
// hashmap or rocksdb), and this file's .cc holds the RocksDB implementation of
// the byte-level KvStore the rocksdb backend's states use. RocksDB stays out of
// every header: only rocksdb_backend.cc includes it.
//
// A rocksdb backend owns one RocksDB instance in its own directory
// <state.backend.rocksdb.localdir>/eddy-rocksdb-<operator id>-<random>/, with
// one column family per state; the directory is deleted when the backend is
// disposed (KeyedStateBackend::Dispose(), or its destructor).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/config_options.h"
#include "eddy/key_group.h"
#include "eddy/state.h"

namespace eddy::runtime {

// Flink's key. Comma-separated directories spread instances over disks.
inline constexpr ConfigOption kStateBackendRocksdbLocalDir{
    "state.backend.rocksdb.localdir", "",
    "Local directories the rocksdb state backend keeps its working files in "
    "(comma-separated); empty uses the system's temporary directory."};

// Eddy's own: the write-back cache in front of RocksDB (see KvCell).
inline constexpr ConfigOption kStateBackendRocksdbCacheEntries{
    "state.backend.rocksdb.cache.entries", "16384",
    "Deserialized entries each keyed state of an operator instance keeps in "
    "memory in front of RocksDB; modifications reach RocksDB when the cache "
    "is full or a checkpoint is taken. 1 makes nearly every access a RocksDB "
    "read and write; memory grows with entries times the size of a value."};

// The keyed state backend of one keyed operator instance owning `range` of
// `max_parallelism` key groups, as `config` (a job's configuration) chooses.
// `operator_id` names the instance in its files (e.g. "<vertex>_<subtask>").
// Errors: InvalidArgument "unknown state.backend.type 'foo': expected hashmap
// or rocksdb"; for rocksdb, the error of creating the directory or opening
// the database.
absl::StatusOr<std::unique_ptr<internal::KeyedStateBackend>> CreateKeyedStateBackend(
    const std::map<std::string, std::string>& config, KeyGroupRange range, int max_parallelism,
    const std::string& operator_id);

// A KvStore over a new RocksDB database in `directory` (created if missing;
// an existing database there is an error); Close() deletes the directory.
absl::StatusOr<std::unique_ptr<internal::KvStore>> OpenRocksDbKvStore(const std::string& directory);

}  // namespace eddy::runtime
