// Which consumer subtasks a producer subtask of a job edge feeds: the one rule
// the embedded cluster and the JobMaster both use to lay out subpartitions and
// input channels. Forward and rescale connect pointwise; the rest all-to-all.
#pragma once

#include <vector>

#include "eddy/job_graph.pb.h"

namespace eddy::runtime {

// The consumers of `producer`, in subpartition order.
inline std::vector<int> ConsumersOf(const proto::JobEdge& edge, int producer, int p_up, int p_down) {
  std::vector<int> consumers;
  if (edge.partitioner() == proto::FORWARD) {
    consumers.push_back(producer);
  } else if (edge.partitioner() == proto::RESCALE) {
    if (p_up >= p_down) {
      consumers.push_back(producer * p_down / p_up);
    } else {
      for (int c = producer * p_down / p_up; c < (producer + 1) * p_down / p_up; ++c) {
        consumers.push_back(c);
      }
    }
  } else {
    for (int c = 0; c < p_down; ++c) consumers.push_back(c);
  }
  return consumers;
}

}  // namespace eddy::runtime
