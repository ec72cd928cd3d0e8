// The ops a plan graph carries, as the step dialect's ODS declares them
// (compiler/dialects/step/StepOps.td): generated into StepOps.inc by
// contract/gen_step_ops.py, checked in so that the runtime builds without
// MLIR, and checked against the ODS by every compiler build
// (contract/CMakeLists.txt). The plan emitter refuses an op outside it; the
// runtime's plan loader and kernel table read arities and traits from it.
#pragma once

#include <cstddef>
#include <string_view>

namespace expcontract {

struct StepOpInfo {
  std::string_view name; // the mnemonic, as a plan's `op`
  int operands;          // 0 when variadic
  bool variadic;
  std::string_view attributes; // the ODS attributes, comma-separated
  bool elementwise;            // Step_Elementwise: may join a fusion group
  bool rowwise;                // Step_RowWise: row i of the result reads row i of the inputs
};

inline constexpr StepOpInfo kStepOps[] = {
#define EXP_STEP_OP(name, operands, variadic, attributes, elementwise, rowwise)                        \
  {name, operands, variadic, attributes, elementwise, rowwise},
#include "contract/StepOps.inc"
#undef EXP_STEP_OP
};

// The op named `name`, or null when plans carry no such op.
inline const StepOpInfo *findStepOp(std::string_view name) {
  for (const StepOpInfo &op : kStepOps)
    if (op.name == name)
      return &op;
  return nullptr;
}

} // namespace expcontract
