// The compiler's passes (declared in Passes.td) and their registration.
#pragma once

#include "mlir/Pass/Pass.h"
#include <memory>

namespace mlir::func {
class FuncDialect;
}
namespace expc::step {
class StepDialect;
}

namespace expc {

#define GEN_PASS_DECL
#include "transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "transforms/Passes.h.inc"

} // namespace expc
