// Tests of the StreamGraph → JobGraph translation: pipelines are declared
// through the DataStream API on an environment that never executes, and the
// job graph's chaining, partitioners, uids and fingerprint are checked.
#include "api/src/job_graph_builder.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <eddy/eddy.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eddy::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Built {
  std::shared_ptr<StreamGraph> graph;
  absl::StatusOr<proto::JobGraph> job;
};

// Builds the job graph of everything declared on `env`.
Built Build(StreamExecutionEnvironment& env) {
  JobGraphOptions options;
  options.job_name = "test job";
  options.default_parallelism = env.getParallelism();
  options.max_parallelism = env.getMaxParallelism();
  Built b{env.TakeStreamGraph(), absl::UnknownError("not built")};
  b.job = BuildJobGraph(*b.graph, options);
  return b;
}

// The same, for graphs that must build.
proto::JobGraph BuildOk(StreamExecutionEnvironment& env) {
  Built b = Build(env);
  EXPECT_TRUE(b.job.ok()) << b.job.status();
  return b.job.ok() ? *b.job : proto::JobGraph();
}

std::vector<std::string> OperatorNames(const proto::JobVertex& v) {
  std::vector<std::string> names;
  for (const auto& op : v.operators()) names.push_back(op.name());
  return names;
}

std::vector<std::string> VertexNames(const proto::JobGraph& job) {
  std::vector<std::string> names;
  for (const auto& v : job.vertices()) names.push_back(v.name());
  return names;
}

const proto::JobVertex& VertexNamed(const proto::JobGraph& job, const std::string& name) {
  for (const auto& v : job.vertices()) {
    if (v.name() == name) return v;
  }
  ADD_FAILURE() << "no vertex named '" << name << "'";
  static const proto::JobVertex kNone;
  return kNone;
}

auto Identity = [](const int64_t& v) { return v; };
auto IsPositive = [](const int64_t& v) { return v > 0; };
auto Discard = [](const int64_t&) {};

TEST(JobGraphBuilderTest, ChainsSourceMapFilterSinkIntoOneVertex) {
  for (int p : {1, 3}) {
    SCOPED_TRACE(p);
    StreamExecutionEnvironment env;
    env.setParallelism(p);
    env.fromSequence(0, 10).map(Identity).filter(IsPositive).addSink(Discard);
    proto::JobGraph job = BuildOk(env);
    ASSERT_EQ(job.vertices_size(), 1);
    const proto::JobVertex& v = job.vertices(0);
    EXPECT_EQ(v.name(), "Source: Sequence Source -> Map -> Filter -> Sink: Unnamed");
    EXPECT_THAT(OperatorNames(v), ElementsAre("Source: Sequence Source", "Map", "Filter", "Sink: Unnamed"));
    EXPECT_EQ(v.parallelism(), p);
    EXPECT_TRUE(v.is_source());
    EXPECT_EQ(job.edges_size(), 0);
    // Chained edges link consecutive operators.
    ASSERT_EQ(v.chained_edges_size(), 3);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(v.chained_edges(i).source_node(), v.operators(i).node_id());
      EXPECT_EQ(v.chained_edges(i).target_node(), v.operators(i + 1).node_id());
      EXPECT_EQ(v.chained_edges(i).side_output_tag(), "");
    }
  }
  // A non-parallel source with user names.
  StreamExecutionEnvironment env;
  env.fromElements(int64_t{1}, int64_t{2})
      .map(Identity)
      .name("double")
      .filter(IsPositive)
      .addSink(Discard, "collect");
  proto::JobGraph job = BuildOk(env);
  EXPECT_THAT(VertexNames(job), ElementsAre("Source: Collection Source -> double -> Filter -> Sink: collect"));
}

TEST(JobGraphBuilderTest, KeyByBreaksTheChainWithAKeyGroupEdge) {
  StreamExecutionEnvironment env;
  env.setParallelism(2);
  env.fromSequence(0, 100)
      .keyBy([](const int64_t& v) { return v % 10; })
      .sum(0)
      .addSink(Discard);
  Built b = Build(env);
  ASSERT_TRUE(b.job.ok()) << b.job.status();
  const proto::JobGraph& job = *b.job;
  EXPECT_THAT(VertexNames(job), ElementsAre("Source: Sequence Source", "Keyed Aggregation -> Sink: Unnamed"));
  ASSERT_EQ(job.edges_size(), 1);
  const proto::JobEdge& e = job.edges(0);
  EXPECT_EQ(e.partitioner(), proto::KEY_GROUP);
  EXPECT_EQ(e.source_vertex(), job.vertices(0).id());
  EXPECT_EQ(e.target_vertex(), job.vertices(1).id());
  EXPECT_EQ(e.source_node(), job.vertices(0).operators(0).node_id());
  EXPECT_EQ(e.target_node(), job.vertices(1).operators(0).node_id());
  // The edge names the node that holds the key selector.
  const StreamNode& partition = b.graph->node(e.partition_node());
  EXPECT_EQ(partition.kind, NodeKind::kPartition);
  EXPECT_EQ(partition.partition, PartitionKind::kKeyGroup);
  EXPECT_TRUE(static_cast<bool>(partition.selector_factory));
  EXPECT_FALSE(job.vertices(1).is_source());
}

TEST(JobGraphBuilderTest, DifferentParallelismBreaksTheChainWithRebalance) {
  StreamExecutionEnvironment env;
  env.setParallelism(2);
  env.fromSequence(0, 100).map(Identity).setParallelism(3).addSink(Discard).setParallelism(3);
  proto::JobGraph job = BuildOk(env);
  ASSERT_EQ(job.vertices_size(), 2);
  EXPECT_EQ(job.vertices(0).name(), "Source: Sequence Source");
  EXPECT_EQ(job.vertices(0).parallelism(), 2);
  EXPECT_EQ(job.vertices(1).name(), "Map -> Sink: Unnamed");
  EXPECT_EQ(job.vertices(1).parallelism(), 3);
  ASSERT_EQ(job.edges_size(), 1);
  EXPECT_EQ(job.edges(0).partitioner(), proto::REBALANCE);
  EXPECT_EQ(job.edges(0).partition_node(), -1);  // implicit

  // The sink inherits the default parallelism (2), so it leaves the map's chain too.
  StreamExecutionEnvironment env2;
  env2.setParallelism(2);
  env2.fromSequence(0, 100).map(Identity).setParallelism(3).addSink(Discard);
  proto::JobGraph job2 = BuildOk(env2);
  EXPECT_THAT(VertexNames(job2), ElementsAre("Source: Sequence Source", "Map", "Sink: Unnamed"));
  ASSERT_EQ(job2.edges_size(), 2);
  EXPECT_EQ(job2.edges(0).partitioner(), proto::REBALANCE);
  EXPECT_EQ(job2.edges(1).partitioner(), proto::REBALANCE);
}

TEST(JobGraphBuilderTest, ExplicitPartitionersMapToTheirKinds) {
  struct Case {
    const char* name;
    DataStream<int64_t> (*apply)(DataStream<int64_t>);
    proto::PartitionerKind kind;
  };
  const Case cases[] = {
      {"rescale", [](DataStream<int64_t> s) { return s.rescale(); }, proto::RESCALE},
      {"rebalance", [](DataStream<int64_t> s) { return s.rebalance(); }, proto::REBALANCE},
      {"shuffle", [](DataStream<int64_t> s) { return s.shuffle(); }, proto::SHUFFLE},
      {"broadcast", [](DataStream<int64_t> s) { return s.broadcast(); }, proto::BROADCAST},
      {"global", [](DataStream<int64_t> s) { return s.global(); }, proto::GLOBAL},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    StreamExecutionEnvironment env;
    env.setParallelism(2);
    c.apply(env.fromSequence(0, 100)).map(Identity).addSink(Discard);
    proto::JobGraph job = BuildOk(env);
    // Even at equal parallelism an explicit partitioner other than forward
    // breaks the chain.
    EXPECT_THAT(VertexNames(job), ElementsAre("Source: Sequence Source", "Map -> Sink: Unnamed"));
    ASSERT_EQ(job.edges_size(), 1);
    EXPECT_EQ(job.edges(0).partitioner(), c.kind);
  }
  // forward() at equal parallelism chains.
  StreamExecutionEnvironment env;
  env.setParallelism(2);
  env.fromSequence(0, 100).forward().map(Identity).addSink(Discard);
  proto::JobGraph job = BuildOk(env);
  EXPECT_THAT(VertexNames(job), ElementsAre("Source: Sequence Source -> Map -> Sink: Unnamed"));
}

TEST(JobGraphBuilderTest, RescaleToADifferentParallelism) {
  StreamExecutionEnvironment env;
  env.setParallelism(2);
  env.fromSequence(0, 100).rescale().map(Identity).setParallelism(4).addSink(Discard).setParallelism(4);
  proto::JobGraph job = BuildOk(env);
  ASSERT_EQ(job.edges_size(), 1);
  EXPECT_EQ(job.edges(0).partitioner(), proto::RESCALE);
}

TEST(JobGraphBuilderTest, ForwardBetweenDifferentParallelismsIsRejected) {
  StreamExecutionEnvironment env;
  env.setParallelism(2);
  env.fromSequence(0, 100).forward().map(Identity).setParallelism(3).addSink(Discard);
  Built b = Build(env);
  ASSERT_FALSE(b.job.ok());
  EXPECT_EQ(b.job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(b.job.status().message()), HasSubstr("forward partitioning"));
}

TEST(JobGraphBuilderTest, EmptyProgramIsRejected) {
  StreamExecutionEnvironment env;
  Built b = Build(env);
  ASSERT_FALSE(b.job.ok());
  EXPECT_EQ(b.job.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JobGraphBuilderTest, UnionFeedsTwoEdgesIntoOneVertex) {
  StreamExecutionEnvironment env;
  env.setParallelism(2);
  auto a = env.fromSequence(0, 10);
  auto b = env.fromSequence(20, 30);
  a.union_(b).map(Identity).addSink(Discard);
  proto::JobGraph job = BuildOk(env);
  ASSERT_EQ(job.vertices_size(), 3);
  const proto::JobVertex& target = VertexNamed(job, "Map -> Sink: Unnamed");
  ASSERT_EQ(job.edges_size(), 2);
  std::set<std::string> sources;
  for (const proto::JobEdge& e : job.edges()) {
    EXPECT_EQ(e.target_vertex(), target.id());
    EXPECT_EQ(e.target_input(), 0);
    EXPECT_EQ(e.partitioner(), proto::FORWARD);
    sources.insert(e.source_vertex());
  }
  EXPECT_EQ(sources.size(), 2u);
  EXPECT_FALSE(sources.count(target.id()));
}

TEST(JobGraphBuilderTest, TwoInputOperatorIsNeverChainedToItsInputs) {
  StreamExecutionEnvironment env;
  env.setParallelism(2);
  auto numbers = env.fromSequence(0, 10);
  auto strings = env.fromSequence(0, 10).map([](const int64_t& v) { return std::to_string(v); });
  numbers.connect(strings)
      .map([](const int64_t& v) { return v; }, [](const std::string& s) { return int64_t(s.size()); })
      .addSink(Discard);
  proto::JobGraph job = BuildOk(env);
  EXPECT_THAT(VertexNames(job), ElementsAre("Source: Sequence Source", "Source: Sequence Source -> Map",
                                            "Co-Map -> Sink: Unnamed"));
  ASSERT_EQ(job.edges_size(), 2);
  const std::string co_map = job.vertices(2).id();
  std::set<int> inputs;
  for (const proto::JobEdge& e : job.edges()) {
    EXPECT_EQ(e.target_vertex(), co_map);
    EXPECT_EQ(e.partitioner(), proto::FORWARD);
    inputs.insert(e.target_input());
  }
  EXPECT_EQ(inputs, (std::set<int>{0, 1}));
  EXPECT_EQ(job.edges(0).source_vertex(), job.vertices(0).id());
  EXPECT_EQ(job.edges(1).source_vertex(), job.vertices(1).id());
  EXPECT_EQ(job.edges(0).target_input(), 0);
  EXPECT_EQ(job.edges(1).target_input(), 1);
}

TEST(JobGraphBuilderTest, ExplicitUidsAreKept) {
  StreamExecutionEnvironment env;
  env.fromSequence(0, 10).uid("numbers").map(Identity).uid("identity").addSink(Discard).uid("sink");
  proto::JobGraph job = BuildOk(env);
  ASSERT_EQ(job.vertices_size(), 1);
  std::vector<std::string> uids;
  for (const auto& op : job.vertices(0).operators()) uids.push_back(op.uid());
  EXPECT_THAT(uids, ElementsAre("numbers", "identity", "sink"));
}

TEST(JobGraphBuilderTest, DuplicateUidsAreRejected) {
  StreamExecutionEnvironment env;
  env.fromSequence(0, 10).map(Identity).uid("same").filter(IsPositive).uid("same").addSink(Discard);
  Built b = Build(env);
  ASSERT_FALSE(b.job.ok());
  EXPECT_EQ(b.job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(b.job.status().message()), HasSubstr("'same'"));
}

struct ProgramIdentity {
  std::vector<std::string> uids;  // every operator, in vertex order
  std::vector<std::string> vertex_ids;
  std::string fingerprint;
};

// One fixed program without uids; `map_parallelism` is the only knob.
ProgramIdentity BuildProgram(int map_parallelism) {
  StreamExecutionEnvironment env;
  env.setParallelism(2);
  auto numbers = env.fromSequence(0, 100);
  numbers.map(Identity)
      .setParallelism(map_parallelism)
      .keyBy([](const int64_t& v) { return v % 3; })
      .reduce([](const int64_t& a, const int64_t& b) { return a + b; })
      .addSink(Discard);
  numbers.filter(IsPositive).map(Identity).addSink(Discard);
  proto::JobGraph job = BuildOk(env);
  ProgramIdentity id;
  for (const auto& v : job.vertices()) {
    id.vertex_ids.push_back(v.id());
    for (const auto& op : v.operators()) id.uids.push_back(op.uid());
  }
  std::sort(id.uids.begin(), id.uids.end());
  id.fingerprint = job.fingerprint();
  return id;
}

TEST(JobGraphBuilderTest, DerivedUidsAndFingerprintsAreDeterministic) {
  ProgramIdentity first = BuildProgram(2);
  ProgramIdentity second = BuildProgram(2);
  ASSERT_EQ(first.uids.size(), 7u);  // source, map, reduce, sink, filter, map, sink
  EXPECT_EQ(first.uids, second.uids);
  EXPECT_EQ(first.vertex_ids, second.vertex_ids);
  EXPECT_FALSE(first.fingerprint.empty());
  EXPECT_EQ(first.fingerprint, second.fingerprint);
  // Every operator gets its own uid.
  EXPECT_EQ(std::set<std::string>(first.uids.begin(), first.uids.end()).size(), first.uids.size());
  for (const std::string& uid : first.uids) EXPECT_FALSE(uid.empty());

  // A parallelism change is a different graph for the TaskManagers...
  ProgramIdentity rescaled = BuildProgram(3);
  EXPECT_NE(rescaled.fingerprint, first.fingerprint);
  // ...but the same operators: derived uids come from the topology only, so
  // state can be matched when a job is restored at another parallelism.
  EXPECT_EQ(rescaled.uids, first.uids);
}

TEST(JobGraphBuilderTest, SideOutputsCarryTheirTagOnEdges) {
  StreamExecutionEnvironment env;
  env.setParallelism(2);
  const OutputTag<std::string> chained_tag("chained-side");
  const OutputTag<int64_t> remote_tag("remote-side");
  auto split = env.fromSequence(0, 100).process(
      [chained_tag, remote_tag](const int64_t& v, ProcessFunction<int64_t, int64_t>::Context& ctx,
                                Collector<int64_t>& out) {
        out.collect(v);
        ctx.output(chained_tag, std::to_string(v));
        ctx.output(remote_tag, v);
      });
  split.addSink(Discard, "main");
  split.getSideOutput(chained_tag).addSink([](const std::string&) {}, "chained");
  split.getSideOutput(remote_tag).addSink(Discard, "remote").setParallelism(1);
  proto::JobGraph job = BuildOk(env);
  ASSERT_EQ(job.vertices_size(), 2);
  const proto::JobVertex& head = job.vertices(0);
  EXPECT_THAT(OperatorNames(head),
              ElementsAre("Source: Sequence Source", "Process", "Sink: main", "Sink: chained"));
  // Chained: the main output without a tag, the chained side output with its tag.
  std::map<std::string, std::string> chained_tags;  // target operator name → tag
  std::map<int, std::string> name_of;
  for (const auto& op : head.operators()) name_of[op.node_id()] = op.name();
  for (const proto::ChainedEdge& e : head.chained_edges()) chained_tags[name_of[e.target_node()]] = e.side_output_tag();
  EXPECT_EQ(chained_tags["Process"], "");
  EXPECT_EQ(chained_tags["Sink: main"], "");
  EXPECT_EQ(chained_tags["Sink: chained"], "chained-side");
  // The remote side output crosses the network, tagged.
  ASSERT_EQ(job.edges_size(), 1);
  EXPECT_EQ(job.edges(0).side_output_tag(), "remote-side");
  EXPECT_EQ(job.edges(0).partitioner(), proto::REBALANCE);
  EXPECT_EQ(name_of[job.edges(0).source_node()], "Process");
  EXPECT_EQ(job.vertices(1).name(), "Sink: remote");
}

TEST(JobGraphBuilderTest, DifferentMaxParallelismBreaksTheChain) {
  StreamExecutionEnvironment env;
  env.setParallelism(2);
  env.fromSequence(0, 10).map(Identity).setMaxParallelism(256).addSink(Discard);
  proto::JobGraph job = BuildOk(env);
  // Chained operators share one keyed backend layout, so they need one max parallelism.
  EXPECT_THAT(VertexNames(job), ElementsAre("Source: Sequence Source", "Map", "Sink: Unnamed"));
  ASSERT_EQ(job.vertices_size(), 3);
  EXPECT_EQ(job.vertices(0).max_parallelism(), 128);
  EXPECT_EQ(job.vertices(1).max_parallelism(), 256);
}

}  // namespace
}  // namespace eddy::internal
