// Complex event processing on Eddy's DataStream API, as Flink CEP offers it:
// describe a Pattern (eddy/cep/pattern.h), apply it to a keyed stream, and
// turn each match into output:
//
//   using eddy::cep::CEP;
//   auto alerts = CEP::pattern(logins.keyBy(&userOf), pattern)
//                     .select([](const eddy::cep::Match<Login>& m) { return m.at("fail").front().user; });
//
// Matching runs per key, in event time by default (records are ordered by
// timestamp with the watermark; assign timestamps and watermarks upstream) or
// in processing time (.inProcessingTime()). Partial matches and the events
// they hold are keyed state, so checkpoints, savepoints and rescaling carry
// them. Partial matches older than the pattern's within() time out; the
// select/flatSelect overloads with an OutputTag (or a process function that
// is also a TimedOutPartialMatchHandler) send them to a side output.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "eddy/cep/internal/cep_operator.h"
#include "eddy/cep/internal/nfa_compiler.h"
#include "eddy/cep/pattern.h"
#include "eddy/datastream.h"

namespace eddy::cep {

// ---- Functions applied to matches (lambdas work as well) ----

template <class IN, class OUT>
class PatternSelectFunction : public Function {
 public:
  using OutputType = OUT;
  virtual OUT select(const Match<IN>& match) = 0;
};

template <class IN, class OUT>
class PatternFlatSelectFunction : public Function {
 public:
  using OutputType = OUT;
  virtual void flatSelect(const Match<IN>& match, Collector<OUT>& out) = 0;
};

// `timeout_timestamp` is when the partial match timed out: its first
// event's timestamp plus the window.
template <class IN, class OUT>
class PatternTimeoutFunction : public Function {
 public:
  using OutputType = OUT;
  virtual OUT timeout(const Match<IN>& partial, int64_t timeout_timestamp) = 0;
};

template <class IN, class OUT>
class PatternFlatTimeoutFunction : public Function {
 public:
  using OutputType = OUT;
  virtual void timeout(const Match<IN>& partial, int64_t timeout_timestamp, Collector<OUT>& out) = 0;
};

// The most general form: every match with its context (time, side outputs).
template <class IN, class OUT>
class PatternProcessFunction : public RichFunction {
 public:
  using InputType = IN;
  using OutputType = OUT;
  using Context = PatternContext;
  virtual void processMatch(const Match<IN>& match, Context& ctx, Collector<OUT>& out) = 0;
};

// A PatternProcessFunction that also implements this gets the partial
// matches that time out (emit them with ctx.output(tag, ...)).
template <class IN>
class TimedOutPartialMatchHandler {
 public:
  virtual ~TimedOutPartialMatchHandler() = default;
  virtual void processTimedOutMatch(const Match<IN>& partial, PatternContext& ctx) = 0;
};

namespace internal {

// Handlers: what the CEP operator does with a match and a timeout.

template <class F>
struct UserFunction {
  F f;
  void Open(eddy::internal::OperatorContext& ctx) { eddy::internal::OpenFunction(f, ctx); }
  void Close() { eddy::internal::CloseFunction(f); }
};

template <class IN, class OUT, class F>
struct SelectHandler : UserFunction<F> {
  static constexpr bool kHandlesTimeouts = false;
  void OnMatch(const Match<IN>& m, PatternContext&, Collector<OUT>& out) {
    if constexpr (requires { this->f.select(m); }) {
      out.collect(this->f.select(m));
    } else {
      out.collect(this->f(m));
    }
  }
  void OnTimeout(const Match<IN>&, int64_t, PatternContext&) {}
};

template <class IN, class OUT, class F>
struct FlatSelectHandler : UserFunction<F> {
  static constexpr bool kHandlesTimeouts = false;
  void OnMatch(const Match<IN>& m, PatternContext&, Collector<OUT>& out) {
    if constexpr (requires { this->f.flatSelect(m, out); }) {
      this->f.flatSelect(m, out);
    } else {
      this->f(m, out);
    }
  }
  void OnTimeout(const Match<IN>&, int64_t, PatternContext&) {}
};

template <class IN, class OUT, class F>
struct ProcessHandler : UserFunction<F> {
  static constexpr bool kHandlesTimeouts = std::is_base_of_v<TimedOutPartialMatchHandler<IN>, F>;
  void OnMatch(const Match<IN>& m, PatternContext& ctx, Collector<OUT>& out) { this->f.processMatch(m, ctx, out); }
  void OnTimeout(const Match<IN>& m, int64_t, PatternContext& ctx) {
    if constexpr (kHandlesTimeouts) this->f.processTimedOutMatch(m, ctx);
  }
};

// Emits what a flat timeout function collects to the timeout side output.
template <class TO>
class SideOutputCollector final : public Collector<TO> {
 public:
  SideOutputCollector(PatternContext& ctx, const OutputTag<TO>& tag) : ctx_(ctx), tag_(tag) {}
  void collect(const TO& value) override { ctx_.output(tag_, value); }

 private:
  PatternContext& ctx_;
  const OutputTag<TO>& tag_;
};

// A select/flatSelect handler plus a timeout function feeding `tag`.
template <class IN, class OUT, class TO, class Inner, class TF>
struct TimeoutHandler {
  static constexpr bool kHandlesTimeouts = true;
  Inner inner;
  UserFunction<TF> timeout;
  OutputTag<TO> tag;
  void Open(eddy::internal::OperatorContext& ctx) {
    inner.Open(ctx);
    timeout.Open(ctx);
  }
  void Close() {
    inner.Close();
    timeout.Close();
  }
  void OnMatch(const Match<IN>& m, PatternContext& ctx, Collector<OUT>& out) { inner.OnMatch(m, ctx, out); }
  void OnTimeout(const Match<IN>& m, int64_t timeout_timestamp, PatternContext& ctx) {
    TF& f = timeout.f;
    if constexpr (std::is_invocable_v<TF&, const Match<IN>&, int64_t, Collector<TO>&> ||
                  std::is_base_of_v<PatternFlatTimeoutFunction<IN, TO>, TF>) {
      SideOutputCollector<TO> out(ctx, tag);
      if constexpr (requires { f.timeout(m, timeout_timestamp, out); }) {
        f.timeout(m, timeout_timestamp, out);
      } else {
        f(m, timeout_timestamp, out);
      }
    } else if constexpr (requires { f.timeout(m, timeout_timestamp); }) {
      ctx.output(tag, static_cast<TO>(f.timeout(m, timeout_timestamp)));
    } else {
      static_assert(std::is_invocable_v<TF&, const Match<IN>&, int64_t>,
                    "a CEP timeout function must be TO(const Match<T>&, int64_t timeout_timestamp), "
                    "void(const Match<T>&, int64_t, Collector<TO>&), or a PatternTimeoutFunction");
      ctx.output(tag, static_cast<TO>(f(m, timeout_timestamp)));
    }
  }
};

template <class F, class IN>
struct SelectOutput {
  using type = decltype([] {
    if constexpr (requires { typename F::OutputType; }) {
      return std::type_identity<typename F::OutputType>{};
    } else {
      static_assert(std::is_invocable_v<F&, const Match<IN>&>,
                    "select() expects a PatternSelectFunction<T, OUT> or a callable "
                    "OUT(const cep::Match<T>&)");
      return std::type_identity<std::decay_t<std::invoke_result_t<F&, const Match<IN>&>>>{};
    }
  }())::type;
};

}  // namespace internal

// A pattern applied to a stream: choose the time domain, then turn matches
// into a stream with select / flatSelect / process.
template <class T, class KeyFn>
class PatternStream {
 public:
  PatternStream(KeyedStream<T, KeyFn> input, Pattern<T> pattern, bool non_keyed)
      : input_(std::move(input)),
        nfa_(internal::NfaCompiler<T>::Compile(pattern)),
        skip_(pattern.getAfterMatchSkipStrategy()),
        non_keyed_(non_keyed) {}

  // Match in arrival order, stamped with the wall clock.
  PatternStream& inProcessingTime() {
    processing_time_ = true;
    return *this;
  }
  // Match in timestamp order (the default).
  PatternStream& inEventTime() {
    processing_time_ = false;
    return *this;
  }
  // Event time: records that arrive behind the watermark go to `tag`.
  PatternStream& sideOutputLateData(const OutputTag<T>& tag) {
    late_tag_ = tag.getId();
    return *this;
  }

  // One output per match: OUT(const Match<T>&) or a PatternSelectFunction.
  template <class F>
  auto select(F f) {
    using OUT = typename internal::SelectOutput<F, T>::type;
    return Build<OUT>(internal::SelectHandler<T, OUT, F>{{std::move(f)}});
  }
  // Any number of outputs per match: void(const Match<T>&, Collector<OUT>&)
  // or a PatternFlatSelectFunction.
  template <class OUT = void, class F>
  auto flatSelect(F f) {
    using O = typename eddy::internal::FunctionOutput<OUT, F, 1>::type;
    static_assert(!std::is_void_v<O>,
                  "flatSelect() expects a PatternFlatSelectFunction<T, OUT> or a callable "
                  "void(const cep::Match<T>&, Collector<OUT>&); for a generic lambda write flatSelect<OUT>(...)");
    return Build<O>(internal::FlatSelectHandler<T, O, F>{{std::move(f)}});
  }
  // A PatternProcessFunction<T, OUT> (optionally a TimedOutPartialMatchHandler<T>).
  template <class F>
  auto process(F f) {
    using OUT = typename F::OutputType;
    static_assert(std::is_base_of_v<PatternProcessFunction<T, OUT>, F>,
                  "process() expects a PatternProcessFunction<T, OUT>");
    return Build<OUT>(internal::ProcessHandler<T, OUT, F>{{std::move(f)}});
  }
  // select() whose timed-out partial matches become `timeout_fn(partial,
  // timeout_timestamp)` on the side output `tag` (getSideOutput(tag)).
  template <class TO, class TF, class SF>
  auto select(const OutputTag<TO>& tag, TF timeout_fn, SF select_fn) {
    using OUT = typename internal::SelectOutput<SF, T>::type;
    using Inner = internal::SelectHandler<T, OUT, SF>;
    return Build<OUT>(
        internal::TimeoutHandler<T, OUT, TO, Inner, TF>{Inner{{std::move(select_fn)}}, {std::move(timeout_fn)}, tag});
  }
  // flatSelect() with a flat timeout function
  // void(const Match<T>&, int64_t, Collector<TO>&) feeding `tag`.
  template <class OUT = void, class TO, class TF, class SF>
  auto flatSelect(const OutputTag<TO>& tag, TF timeout_fn, SF select_fn) {
    using O = typename eddy::internal::FunctionOutput<OUT, SF, 1>::type;
    static_assert(!std::is_void_v<O>,
                  "flatSelect() expects a callable void(const cep::Match<T>&, Collector<OUT>&); "
                  "for a generic lambda write flatSelect<OUT>(...)");
    using Inner = internal::FlatSelectHandler<T, O, SF>;
    return Build<O>(
        internal::TimeoutHandler<T, O, TO, Inner, TF>{Inner{{std::move(select_fn)}}, {std::move(timeout_fn)}, tag});
  }

 private:
  template <class OUT, class H>
  SingleOutputStreamOperator<OUT> Build(H handler) {
    using Op = internal::CepOperator<T, OUT, KeyFn, H>;
    typename Op::Options options{nfa_, skip_, processing_time_, late_tag_};
    StreamExecutionEnvironment& env = input_.getExecutionEnvironment();
    auto& node = env.stream_graph().AddNode(eddy::internal::NodeKind::kOneInput, "CepOperator", {input_.getId()},
                                            eddy::internal::TypeHandleFor<OUT>());
    node.keyed = true;
    if (non_keyed_) {
      node.parallelism = 1;
      node.parallelism_is_fixed = true;
    }
    node.operator_factory = [key_fn = input_.key_fn(), options,
                             handler]() -> std::unique_ptr<eddy::internal::StreamOperatorBase> {
      return std::make_unique<Op>(key_fn, options, handler);
    };
    return SingleOutputStreamOperator<OUT>(&env, node.id);
  }

  KeyedStream<T, KeyFn> input_;
  std::shared_ptr<const internal::CompiledNfa<T>> nfa_;
  AfterMatchSkipStrategy skip_;
  bool non_keyed_;
  bool processing_time_ = false;
  std::string late_tag_;
};

class CEP {
 public:
  // Matches `pattern` per key of `input`. The pattern is compiled here, so a
  // malformed one throws MalformedPatternException when the job is built.
  template <class T, class KeyFn>
  static PatternStream<T, KeyFn> pattern(const KeyedStream<T, KeyFn>& input, const Pattern<T>& pattern) {
    return PatternStream<T, KeyFn>(input, pattern, false);
  }
  // Matches `pattern` over the whole stream, in one parallel instance.
  template <class T>
  static auto pattern(DataStream<T> input, const Pattern<T>& pattern) {
    auto keyed = input.keyBy([](const T&) { return uint8_t{0}; });
    auto& partition = input.getExecutionEnvironment().stream_graph().node(keyed.getId());
    partition.parallelism = 1;
    using KeyFn = std::decay_t<decltype(keyed.key_fn())>;
    return PatternStream<T, KeyFn>(keyed, pattern, true);
  }
};

}  // namespace eddy::cep
