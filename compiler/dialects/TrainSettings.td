//===- TrainSettings.td - the training loop's settings -----*- tablegen -*-===//
//
// The settings `exp.train` carries and `step.train_loop` keeps, in one place
// so the two ops cannot drift apart. Defaults are the `train` block's
// (stdlib/std/core.exp), so IR that leaves them out means the same thing.
//
//===----------------------------------------------------------------------===//

#ifndef EXP_TRAIN_SETTINGS_TD
#define EXP_TRAIN_SETTINGS_TD

include "mlir/IR/OpBase.td"

defvar Exp_TrainLoopSettings = (ins
  DefaultValuedAttr<I64Attr, "0">:$steps,
  DefaultValuedAttr<StrAttr, "\"constant_lr\"">:$schedule,
  DefaultValuedAttr<DictionaryAttr, "{}">:$schedule_params,
  DefaultValuedAttr<StrAttr, "\"fp32\"">:$precision,
  DefaultValuedAttr<F64Attr, "0.0">:$clip_grad_norm,
  DefaultValuedAttr<I64Attr, "1">:$accumulate,
  DefaultValuedAttr<BoolAttr, "true">:$deterministic,
  DefaultValuedAttr<I64Attr, "0">:$early_stop_patience);

#endif // EXP_TRAIN_SETTINGS_TD
