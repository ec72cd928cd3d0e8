// IR generation: the elaborated experiment (sema's values) -> the `exp`
// dialect, one `exp.experiment` per file, every op located at its .exp source
// through FileLineColLoc. Parts of the language the middle end cannot lower
// yet are reported here, at their source, as E0602.
#pragma once

#include "sema/Sema.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace expc {

// Null when something cannot be lowered (reported to `diags`).
mlir::OwningOpRef<mlir::ModuleOp> generateIr(mlir::MLIRContext &ctx, const Sema &sema,
                                             const SourceManager &sources, DiagnosticEngine &diags,
                                             llvm::StringRef experimentName);

} // namespace expc
