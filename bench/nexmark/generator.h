// The Nexmark event generator: event number i → Event, a pure function of i
// and the configuration, so that the engine's source and the single-threaded
// reference see exactly the same events.
//
// It follows Nexmark's generator: per 50 events 1 person, 3 auctions and 46
// bids; ids dense from 1000; most auctions are sold by, and most bids come
// from, a few hot people, and most bids go to a few hot auctions; bids refer
// to recent auctions and people (a few ids ahead: they may come before the
// auction or person they name). Event i's time is base_time_ms +
// i / events_per_second, minus a pseudo-random delay of at most
// max_out_of_order_ms, so a bounded-out-of-orderness watermark of that bound
// never makes an event late.
#pragma once

#include <eddy/eddy.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model.h"

namespace nexmark {

struct GeneratorConfig {
  // Events generated in total (over all source subtasks).
  int64_t events = 100'000;
  // Event time of event 0, in epoch milliseconds.
  int64_t base_time_ms = 1'700'000'000'000;
  // Event-time rate: events per second of event time (Nexmark's first event
  // rate).
  int64_t events_per_second = 10'000;
  // Bound on how much earlier than its position an event's time may be.
  int64_t max_out_of_order_ms = 1'000;
  // Average serialized sizes Nexmark pads the `extra` fields to.
  int avg_person_bytes = 200;
  int avg_auction_bytes = 500;
  int avg_bid_bytes = 100;

  // Reads --events, --base-time, --time-rate (default: --rate if positive,
  // else 10 000), --out-of-order-ms from program arguments. Throws
  // std::invalid_argument naming the option on a bad value.
  static GeneratorConfig FromArgs(const eddy::ParameterTool& args);
};

// Event number `index` (0-based) of the sequence `config` describes.
Event GenerateEvent(int64_t index, const GeneratorConfig& config);

// The event time of event number `index` before its out-of-order delay.
int64_t NominalTime(int64_t index, const GeneratorConfig& config);

// Position of one parallel source instance: it emits next, next + stride, ...
// below end. Kept in operator state.
struct SourceSplit {
  int64_t next = 0;
  int64_t end = 0;
  int64_t stride = 1;
};

// The generator as a parallel, checkpointed source: subtask k of p emits the
// events k, k + p, k + 2p... (so every subtask advances through event time at
// the same pace), at `rate` events per second over all subtasks (0: as fast
// as it can), stamping each with created_us. A checkpoint stores each
// subtask's split; a restored subtask (at any parallelism) emits the splits it
// is given, interleaved.
//
// With a stats directory set, each subtask writes
// source-<subtask>-<attempt>.txt there when it ends: "<first emit us> <last
// emit us> <events>", which the benchmark runner turns into events per second.
class NexmarkSource : public eddy::RichParallelSourceFunction<Event>, public eddy::CheckpointedFunction {
 public:
  NexmarkSource(GeneratorConfig config, double rate, std::string stats_dir = "", int64_t linger_ms = 0)
      : config_(config), rate_(rate), stats_dir_(std::move(stats_dir)), linger_ms_(linger_ms) {}
  NexmarkSource(const NexmarkSource& other)
      : config_(other.config_), rate_(other.rate_), stats_dir_(other.stats_dir_), linger_ms_(other.linger_ms_) {}

  void run(SourceContext& ctx) override;
  void initializeState(eddy::FunctionInitializationContext& context) override;
  void snapshotState(const eddy::FunctionSnapshotContext& context) override;

 private:
  void AssignFresh();
  void WriteStats(int64_t first_us, int64_t last_us, int64_t emitted);

  GeneratorConfig config_;
  double rate_;
  std::string stats_dir_;
  int64_t linger_ms_;  // after the last event: keeps the job alive
                       // (processing-time windows)
  bool initialized_ = false;
  std::vector<SourceSplit> splits_;
  eddy::ListState<SourceSplit>* state_ = nullptr;
};

// Wall-clock microseconds since the epoch.
int64_t NowMicros();

}  // namespace nexmark

EDDY_FIELDS(nexmark::SourceSplit, next, end, stride);
