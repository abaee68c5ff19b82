// StreamGraph → JobGraph: fills in parallelism and uids, resolves virtual nodes
// into edges with partitioners, chains operators and fingerprints the graph.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eddy/internal/stream_graph.h"
#include "eddy/job_graph.pb.h"

namespace eddy::internal {

struct JobGraphOptions {
  std::string job_name;
  std::string program_name;
  std::vector<std::string> program_args;
  int default_parallelism = 1;
  int max_parallelism = 128;
  int64_t buffer_timeout_ms = 100;
  std::map<std::string, std::string> config;
};

// An input of a physical node after virtual nodes are resolved.
struct PhysicalEdge {
  int source = 0;
  int target = 0;
  int target_input = 0;
  PartitionKind partition = PartitionKind::kForward;
  bool partition_explicit = false;
  int partition_node = -1;
  std::string side_output_tag;
  int type_node = -1;  // the node the consumer named as input: its type is the records'
};

// The physical edges of `graph` (parallelism must be finalized).
std::vector<PhysicalEdge> ResolvePhysicalEdges(const StreamGraph& graph);

// Finalizes `graph` in place (parallelism, max parallelism, uids) and builds the
// job graph; InvalidArgument on an inconsistent graph (duplicate uids, forward
// edges between different parallelisms, ...). The job id is left empty.
absl::StatusOr<proto::JobGraph> BuildJobGraph(StreamGraph& graph, const JobGraphOptions& options);

}  // namespace eddy::internal
