// The experiment-level `exp` dialect (level 1 of the IR).
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/exp/ExpDialect.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/exp/ExpTypes.h.inc"

#define GET_OP_CLASSES
#include "dialects/exp/ExpOps.h.inc"

namespace expc::expd {

// The type of `column` in a dataset of `source` with `params`, or a null type
// (and `error` set) when the source has no such column.
mlir::Type columnType(mlir::MLIRContext *ctx, llvm::StringRef source,
                      mlir::DictionaryAttr params, llvm::StringRef column,
                      std::string &error);

// Side information lowered as per-row vectors keyed by a labels column
// (`embedding_file`, `transcriptome`, `morgan`): the runtime featurises it
// into a table and reads the row's entry (docs/sideinfo.md). Its width is
// the `dim` parameter (`bits` for `morgan`).
bool isSideKind(llvm::StringRef kind);
int64_t sideWidth(llvm::StringRef kind, mlir::DictionaryAttr params);

// Whether `source` reads files at a `path` (rxrx1, jump_cp, rxrx3_core,
// rxrx19a, bray2017, cellpainting) rather than generating its data.
bool isRealSource(llvm::StringRef source);

// The columns of a dataset of `source` with `params` whose rows are drawn
// afresh for every training batch (MICON's paired treated/control images):
// like augmented images, they vary between steps.
llvm::SmallVector<llvm::StringRef> sampledColumns(llvm::StringRef source,
                                                  mlir::DictionaryAttr params, int64_t bag);

// What a pretrained extern encoder of `kind` produces from `input`; failure
// (and `error` set) when it cannot take that input or `kind` is unknown.
mlir::FailureOr<EmbeddingType> encoderResult(llvm::StringRef kind, mlir::Type input,
                                             std::string &error);

// One row of a column as a network body sees it: images -> tensor<c x h x w x f32>,
// labels -> tensor<i64>; null for other types.
mlir::RankedTensorType rowType(mlir::Type column);

// An integer parameter, or `fallback` when absent.
int64_t intParam(mlir::DictionaryAttr params, llvm::StringRef name, int64_t fallback = 0);
double floatParam(mlir::DictionaryAttr params, llvm::StringRef name, double fallback = 0);

} // namespace expc::expd
