// StreamGraph → JobGraph translation (see job_graph_builder.h).
#include "api/src/job_graph_builder.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "eddy/ids.h"
#include "eddy/key_group.h"
#include "eddy/status.h"
#include "eddy/version.h"

namespace eddy::internal {
namespace {

proto::PartitionerKind ToProto(PartitionKind kind) {
  switch (kind) {
    case PartitionKind::kForward: return proto::FORWARD;
    case PartitionKind::kRebalance: return proto::REBALANCE;
    case PartitionKind::kRescale: return proto::RESCALE;
    case PartitionKind::kShuffle: return proto::SHUFFLE;
    case PartitionKind::kBroadcast: return proto::BROADCAST;
    case PartitionKind::kGlobal: return proto::GLOBAL;
    case PartitionKind::kKeyGroup: return proto::KEY_GROUP;
  }
  return proto::FORWARD;
}

// Walks from `id` up through virtual nodes to the physical producers.
void Resolve(const StreamGraph& graph, int id, PhysicalEdge edge, std::vector<PhysicalEdge>* out) {
  const StreamNode& node = graph.node(id);
  switch (node.kind) {
    case NodeKind::kPartition:
      // The partitioner closest to the consumer wins.
      if (!edge.partition_explicit) {
        edge.partition = node.partition;
        edge.partition_explicit = true;
        edge.partition_node = node.id;
      }
      Resolve(graph, node.inputs[0], edge, out);
      return;
    case NodeKind::kUnion:
      for (int input : node.inputs) Resolve(graph, input, edge, out);
      return;
    case NodeKind::kSideOutput:
      edge.side_output_tag = node.side_output_tag;
      Resolve(graph, node.inputs[0], edge, out);
      return;
    default:
      edge.source = id;
      out->push_back(edge);
  }
}

bool IsPhysical(const StreamNode& n) { return !n.is_virtual(); }

}  // namespace

std::vector<PhysicalEdge> ResolvePhysicalEdges(const StreamGraph& graph) {
  std::vector<PhysicalEdge> edges;
  for (int id = 0; id < graph.size(); ++id) {
    const StreamNode& node = graph.node(id);
    if (!IsPhysical(node)) continue;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      PhysicalEdge edge;
      edge.target = id;
      edge.target_input = static_cast<int>(i);
      edge.type_node = node.inputs[i];
      Resolve(graph, node.inputs[i], edge, &edges);
    }
  }
  for (PhysicalEdge& e : edges) {
    if (!e.partition_explicit) {
      e.partition = graph.node(e.source).parallelism == graph.node(e.target).parallelism
                        ? PartitionKind::kForward
                        : PartitionKind::kRebalance;
    }
  }
  return edges;
}

absl::StatusOr<proto::JobGraph> BuildJobGraph(StreamGraph& graph, const JobGraphOptions& options) {
  if (graph.empty()) {
    return absl::InvalidArgumentError("no operators defined in the streaming topology; cannot execute");
  }
  // 1. Parallelism, max parallelism and uids of physical nodes.
  std::set<std::string> uids;
  std::vector<std::string> resolved_uid(static_cast<size_t>(graph.size()));
  for (int id = 0; id < graph.size(); ++id) {
    StreamNode& node = graph.node(id);
    if (node.parallelism < 0) node.parallelism = options.default_parallelism;
    if (node.max_parallelism < 0) node.max_parallelism = options.max_parallelism;
    if (!IsPhysical(node)) continue;
    RETURN_IF_ERROR(CheckParallelism(node.parallelism, node.max_parallelism));
    if (!node.uid_is_user_set) {
      // Derived from the position in the topology, never from a counter of
      // constructions: the same program always derives the same uids.
      std::string seed = absl::StrCat(node.op_kind, "/", id);
      for (int input : node.inputs) absl::StrAppend(&seed, "/", input);
      node.uid = Id16::FromHash(seed).ToHex().substr(0, 16);
    }
    if (!uids.insert(node.uid).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate operator uid '", node.uid, "' (operator '", node.name,
                       "'): uids must be unique within a job"));
    }
  }

  // 2. Edges and chaining.
  std::vector<PhysicalEdge> edges = ResolvePhysicalEdges(graph);
  std::vector<int> in_degree(static_cast<size_t>(graph.size()), 0);
  for (const PhysicalEdge& e : edges) in_degree[e.target]++;
  auto chainable = [&](const PhysicalEdge& e) {
    const StreamNode& up = graph.node(e.source);
    const StreamNode& down = graph.node(e.target);
    return e.partition == PartitionKind::kForward && up.parallelism == down.parallelism &&
           in_degree[e.target] == 1 && down.kind != NodeKind::kTwoInput &&
           up.max_parallelism == down.max_parallelism;
  };
  for (const PhysicalEdge& e : edges) {
    const StreamNode& up = graph.node(e.source);
    const StreamNode& down = graph.node(e.target);
    if (e.partition == PartitionKind::kForward && e.partition_explicit &&
        up.parallelism != down.parallelism) {
      return absl::InvalidArgumentError(absl::StrCat(
          "forward partitioning does not allow a change of parallelism: '", up.name, "' has ",
          up.parallelism, ", '", down.name, "' has ", down.parallelism,
          "; use rebalance() or rescale()"));
    }
  }
  std::vector<int> head(static_cast<size_t>(graph.size()), -1);
  for (int id = 0; id < graph.size(); ++id) {
    if (IsPhysical(graph.node(id))) head[id] = id;
  }
  for (const PhysicalEdge& e : edges) {  // edges are in target order: topological
    if (chainable(e)) head[e.target] = head[e.source];
  }

  // 3. Vertices.
  proto::JobGraph job;
  job.set_job_name(options.job_name);
  job.set_program_name(options.program_name);
  for (const auto& a : options.program_args) job.add_program_args(a);
  job.set_max_parallelism(options.max_parallelism);
  job.set_buffer_timeout_ms(options.buffer_timeout_ms);
  job.set_abi_version(EDDY_ABI_VERSION);
  for (const auto& [k, v] : options.config) (*job.mutable_config())[k] = v;

  std::map<int, int> vertex_of_head;  // head node id → vertex index
  std::vector<std::string> vertex_names;
  for (int id = 0; id < graph.size(); ++id) {
    if (head[id] < 0) continue;
    const StreamNode& node = graph.node(id);
    auto [it, inserted] = vertex_of_head.emplace(head[id], job.vertices_size());
    if (inserted) {
      proto::JobVertex* v = job.add_vertices();
      v->set_id(Id16::FromHash(node.uid).ToHex());
      v->set_parallelism(node.parallelism);
      v->set_max_parallelism(node.max_parallelism);
      v->set_is_source(node.kind == NodeKind::kSource);
      vertex_names.emplace_back();
    }
    proto::JobVertex* v = job.mutable_vertices(it->second);
    proto::OperatorDescriptor* op = v->add_operators();
    op->set_node_id(id);
    op->set_uid(node.uid);
    op->set_name(node.name);
    op->set_kind(node.op_kind);
    if (node.output_type) op->set_output_type(std::string(node.output_type->name()));
    std::string& vname = vertex_names[it->second];
    vname = vname.empty() ? node.name : absl::StrCat(vname, " -> ", node.name);
  }
  for (int i = 0; i < job.vertices_size(); ++i) job.mutable_vertices(i)->set_name(vertex_names[i]);

  for (const PhysicalEdge& e : edges) {
    if (head[e.source] == head[e.target]) {
      proto::ChainedEdge* c = job.mutable_vertices(vertex_of_head[head[e.source]])->add_chained_edges();
      c->set_source_node(e.source);
      c->set_target_node(e.target);
      c->set_target_input(e.target_input);
      c->set_side_output_tag(e.side_output_tag);
      c->set_type_node(e.type_node);
      continue;
    }
    proto::JobEdge* j = job.add_edges();
    j->set_source_vertex(job.vertices(vertex_of_head[head[e.source]]).id());
    j->set_target_vertex(job.vertices(vertex_of_head[head[e.target]]).id());
    j->set_source_node(e.source);
    j->set_target_node(e.target);
    j->set_target_input(e.target_input);
    j->set_partitioner(ToProto(e.partition));
    j->set_partition_node(e.partition_node);
    j->set_side_output_tag(e.side_output_tag);
    j->set_type_node(e.type_node);
  }

  // 4. Fingerprint: everything a TaskManager's rebuilt graph must agree on.
  std::string canon;
  for (int id = 0; id < graph.size(); ++id) {
    const StreamNode& n = graph.node(id);
    absl::StrAppend(&canon, id, ":", static_cast<int>(n.kind), ":", n.op_kind, ":", n.uid, ":",
                    n.parallelism, ":", n.max_parallelism, ":",
                    n.output_type ? std::string(n.output_type->name()) : std::string("-"), ":", n.keyed, ":",
                    static_cast<int>(n.partition), ":", n.side_output_tag, "<",
                    absl::StrJoin(n.inputs, ","), ">;");
  }
  job.set_fingerprint(Id16::FromHash(canon).ToHex());
  return job;
}

}  // namespace eddy::internal
