// The Nexmark queries as plain single-threaded loops over the generated
// events (GenerateEvent(0..events-1)): the correctness oracle of the engine's
// queries and the hand-written baseline their speed is compared with. Each
// function calls `emit` once per result (created_us stays 0); results come
// in no particular order.
#pragma once

#include <functional>

#include "generator.h"
#include "model.h"

namespace nexmark {

template <class R>
using Emit = std::function<void(const R&)>;

void ReferenceQ0(const GeneratorConfig& config, const Emit<Event>& emit);
void ReferenceQ1(const GeneratorConfig& config, const Emit<Q1Result>& emit);
void ReferenceQ2(const GeneratorConfig& config, const Emit<Q2Result>& emit);
void ReferenceQ3(const GeneratorConfig& config, const Emit<Q3Result>& emit);
// The final average of each category (`closed` auctions with a winning bid).
void ReferenceQ4(const GeneratorConfig& config, const Emit<Q4Result>& emit);
void ReferenceQ5(const GeneratorConfig& config, const Emit<Q5Result>& emit);
void ReferenceQ7(const GeneratorConfig& config, const Emit<Q7Result>& emit);
void ReferenceQ8(const GeneratorConfig& config, const Emit<Q8Result>& emit);
void ReferenceQ11(const GeneratorConfig& config, const Emit<Q11Result>& emit);
// Processing-time windows cannot be reproduced: the total bids of each bidder.
void ReferenceQ12Totals(const GeneratorConfig& config, const Emit<Q12Result>& emit);

}  // namespace nexmark
