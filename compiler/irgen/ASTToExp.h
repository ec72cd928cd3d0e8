// IR generation: the checked AST -> the `exp` dialect, one `exp.experiment`
// per file, every op located at its .exp source through FileLineColLoc.
#pragma once

#include "sema/Sema.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace expc {

mlir::OwningOpRef<mlir::ModuleOp> importExperiment(mlir::MLIRContext &ctx, const Sema &sema,
                                                   const SourceManager &sources,
                                                   llvm::StringRef experimentName);

} // namespace expc
