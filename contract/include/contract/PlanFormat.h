// The plan contract: what the compiler (compiler/plan/PlanEmitter.cpp) and
// the runtime (runtime/plan/Plan.cpp) agree on, defined once for both
// halves. Neither half's libraries are needed to read it.
#pragma once

namespace expcontract {

// The plan artifact's format version. The emitter writes it; the runtime
// refuses any other (docs/artifact.md). Bump it when the plan's shape changes.
inline constexpr int kPlanFormatVersion = 9;

// The version of the project's two halves (the runtime reports it, and it is
// part of the feature cache's content key).
inline constexpr const char *kVersion = "0.1.0";

} // namespace expcontract
