// The StreamGraph: what a program records when it calls the DataStream API.
// Physical nodes carry an operator factory (each subtask gets its own copy of
// the user function); virtual nodes (partitioning, union, side-output
// selection) only shape the edges. StreamGraphToJobGraph (api/src) chains it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eddy/internal/runtime_interfaces.h"

namespace eddy::internal {

enum class NodeKind { kSource, kOneInput, kTwoInput, kSink, kPartition, kUnion, kSideOutput };

struct StreamNode {
  int id = 0;
  NodeKind kind = NodeKind::kOneInput;
  std::string op_kind;      // "map", "source", ... used in names and fingerprints
  std::string name;
  std::string uid;          // user-given, or derived when the graph is finalized
  bool uid_is_user_set = false;
  int parallelism = -1;     // -1: the environment's default
  bool parallelism_is_fixed = false;  // non-parallel sources
  int max_parallelism = -1;
  std::vector<int> inputs;  // upstream node ids; two-input nodes: [first, second]
  const TypeHandle* output_type = nullptr;
  bool keyed = false;       // consumes a keyed stream (has a keyed state backend)

  // Physical nodes.
  std::function<std::unique_ptr<StreamOperatorBase>()> operator_factory;
  // Partition nodes.
  PartitionKind partition = PartitionKind::kForward;
  std::function<std::unique_ptr<ChannelSelectorBase>(int num_channels, int max_parallelism)>
      selector_factory;
  // Side-output nodes: the tag selected from the upstream operator.
  std::string side_output_tag;

  bool is_virtual() const {
    return kind == NodeKind::kPartition || kind == NodeKind::kUnion ||
           kind == NodeKind::kSideOutput;
  }
};

class StreamGraph {
 public:
  StreamNode& AddNode(NodeKind kind, std::string op_kind, std::vector<int> inputs,
                      const TypeHandle* output_type) {
    auto node = std::make_unique<StreamNode>();
    node->id = static_cast<int>(nodes_.size());
    node->kind = kind;
    node->name = op_kind;
    node->op_kind = std::move(op_kind);
    node->inputs = std::move(inputs);
    node->output_type = output_type;
    nodes_.push_back(std::move(node));
    return *nodes_.back();
  }
  StreamNode& node(int id) { return *nodes_.at(static_cast<size_t>(id)); }
  const StreamNode& node(int id) const { return *nodes_.at(static_cast<size_t>(id)); }
  int size() const { return static_cast<int>(nodes_.size()); }
  bool empty() const { return nodes_.empty(); }
  void Clear() { nodes_.clear(); }

 private:
  std::vector<std::unique_ptr<StreamNode>> nodes_;
};

}  // namespace eddy::internal
