//===- Passes.td - exp compiler passes --------------------*- tablegen -*-===//

#ifndef EXP_PASSES_TD
#define EXP_PASSES_TD

include "mlir/Pass/PassBase.td"

def ExpLowerToStep : Pass<"exp-lower-to-step", "::mlir::ModuleOp"> {
  let summary = "Lower exp experiments to step-level graphs and directives";
  let description = [{
    Instantiates each encoder into step tensor ops with `step.parameter`
    globals (all applications of one encoder share them), expands each loss
    into its ATen-granularity composition, and builds:

    * `@train_step`: a `func.func` from the dataset columns the objective
      reads to the scalar loss, driven by one `step.train_loop`;
    * one `@embed_N` graph per distinct embedding an evaluation needs
      (shared between metrics that use the same embedding), driven by
      `step.evaluate`;
    * a `step.source` describing the dataset.

    The `exp.experiment` op is replaced by these module-level ops.
  }];
  let dependentDialects = ["::expc::step::StepDialect", "::mlir::func::FuncDialect"];
}

#endif // EXP_PASSES_TD
