// The state file of one operator in one subtask, and restoring from it.
//
// A file is a sequence of sections: the operator state first, then one section
// per key group of the subtask's range (see KeyedStateSnapshot for a
// section's entries). The handle in the metadata holds the offsets, so a
// restoring subtask reads only the key groups it owns, whatever the old
// parallelism was.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eddy/checkpoint.h"
#include "eddy/checkpoint.pb.h"
#include "eddy/key_group.h"
#include "eddy/state.h"

namespace eddy::checkpoint {

// Writes `directory`/`file_name` and returns its handle (file relative to
// `directory`). `keyed` may be null (an operator without keyed state).
absl::StatusOr<proto::OperatorSubtaskState> WriteOperatorSnapshot(
    const std::string& directory, const std::string& file_name, int subtask,
    const std::vector<internal::OperatorStateList>& operator_state, internal::KeyedStateSnapshot* keyed,
    KeyGroupRange range, const std::string& backend);

// The operator state subtask `index` of `parallelism` restores: split lists
// concatenated over the old subtasks and cut into even parts, union lists
// whole, broadcast lists from one old subtask. `directory` holds the metadata.
absl::StatusOr<std::vector<internal::OperatorStateList>> AssignOperatorState(
    const proto::OperatorStateHandles& op, const std::string& directory, int index, int parallelism);

// Restores every key group of `backend`'s range from the old subtasks that
// held it. Fails if the max parallelism changed.
absl::Status RestoreKeyedState(const proto::OperatorStateHandles& op, const std::string& directory,
                               internal::KeyedStateBackend& backend);

// The path of a handle's file.
std::string HandlePath(const std::string& directory, const proto::OperatorSubtaskState& handle);

}  // namespace eddy::checkpoint
