//===- Passes.td - exp compiler passes --------------------*- tablegen -*-===//

#ifndef EXP_PASSES_TD
#define EXP_PASSES_TD

include "mlir/Pass/PassBase.td"

def ExpInlineNetworks : Pass<"exp-inline-networks", "::mlir::ModuleOp"> {
  let summary = "Inline nested network instantiations into concrete layer graphs";
  let description = [{
    Semantic analysis gives each network instantiation its own `exp.network`
    (a `ResNet` calls its `BasicBlock`s through `exp.call`). This pass
    replaces every `exp.call` by the callee's body — bottom-up, so each
    network an encoder uses becomes one flat graph of `exp.layer` and
    `exp.apply` ops — and prefixes the inlined ops' names with the call's,
    so parameter names stay unique and say where they come from
    (`cells.4.BasicBlock.0.conv2d.weight`). Networks only reached through
    calls are then erased. A network that calls itself is an error.
  }];
}

def ExpCSE : Pass<"exp-cse", "::mlir::ModuleOp"> {
  let summary = "Share identical encoder applications, columns and step ops";
  let description = [{
    Common-subexpression elimination (MLIR's CSE driver) at either level.
    At the experiment level, IR generation emits an `exp.column` and an
    `exp.encode` for every use in the source; this pass merges the ones that
    read the same column with the same encoder, so an encoder the objective
    and an evaluation share, or two terms of a loss share, is instantiated
    and featurised once, and evaluations of one embedding share one graph.
    At the step level it merges duplicate constants and parameter reads.
    Side-effecting ops (`step.dropout`) and layers with different names
    (different parameters) are never merged. With `explain`, a remark counts
    what was shared.
  }];
  let options = [
    Option<"explain", "explain", "bool", /*default=*/"false",
           "Remark on how many ops were merged">,
  ];
}

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

def StepInferShapes : Pass<"step-infer-shapes", "::mlir::ModuleOp"> {
  let summary = "Infer step result shapes from operands; refine and check declared types";
  let description = [{
    Runs every op's shape function (InferTypeOpInterface; the rules are in
    `compiler/dialects/step/StepShapes.cpp`) in program order. A dimension a
    result declares dynamic but its operands determine is filled in, and the
    change flows on to its users, to fusion-group and graph results, and to
    graphs reading the refined graph's precomputed features. A declared
    dimension that contradicts the inferred one is an error at the op.

    The compiler's own lowering builds ops through the same functions, so on
    its output this pass checks and changes nothing; it is for step IR from
    elsewhere — written by hand, edited, or from another front end — which
    may leave shapes dynamic. Shapes the user writes are inferred and checked
    earlier, with source diagnostics, by semantic analysis.
  }];
  let options = [
    Option<"explain", "explain", "bool", /*default=*/"false",
           "Remark on how many result types were refined">,
  ];
  let dependentDialects = ["::expc::step::StepDialect", "::mlir::func::FuncDialect"];
}

def StepHoistFrozenEncoders : Pass<"step-hoist-frozen-encoders", "::mlir::ModuleOp"> {
  let summary = "Compute frozen encoders once per dataset row, outside the training loop";
  let description = [{
    Loop-invariant code motion across the training loop. In the graph a
    `step.train_loop` drives, and in each evaluation graph over dataset rows
    (not recall_at's candidates, marked `step.rows = "classes"`), a value
    is *per-row* when it is a dataset
    column (in the training graph, not an image column of a source with
    `augment`: those change every step), or the result of a row-wise (`Step_RowWise`), side-effect-free op
    whose operands are per-row values, frozen parameters or constants. Such a
    value is the same at every step for a given row. The per-row values that
    something else uses (a trainable head, the loss) and that read a frozen
    parameter — the output of a frozen encoder — move into a new graph
    `@features_<graph>`, which a `step.precompute` runs once over the
    dataset's rows before the first step (an evaluation graph computing the
    same shares the training step's); graphs read them through
    arguments marked `step.features`/`step.output` and no longer reads the
    columns only the encoder needed. CellCLIP's frozen backbone is the case
    this is for: no forward pass of it stays in the training step.

    Not hoisted: anything after dropout (a new mask every step) or after an
    op that mixes the rows of a batch, and per-row values that read no frozen
    parameter (caching a column's cheap function saves nothing). With
    `explain`, a remark names each hoisted value and the first frozen
    parameter read that stays in the step, with the reason.
  }];
  let options = [
    Option<"explain", "explain", "bool", /*default=*/"false",
           "Remark on what was hoisted, and on the first frozen read that was not, and why">,
  ];
  let dependentDialects = ["::expc::step::StepDialect", "::mlir::func::FuncDialect"];
}

def StepFuseContrastiveLoss : Pass<"step-fuse-contrastive-loss", "::mlir::ModuleOp"> {
  let summary = "Fuse the contrastive-loss composition into one step.contrastive_loss";
  let description = [{
    Finds the composition `exp-lower-to-step` expands a CLIP objective into —

        an = l2_normalize(a); bn = l2_normalize(b)
        L  = mul(matmul(an, bn, transpose_b), scale)
        loss = mul(add(cross_entropy(L, arange_rows(L)),
                       cross_entropy(transpose(L), arange_rows(L))), 0.5)

    — and replaces it by `step.contrastive_loss "clip" a, b, scale`, whose
    kernel has a hand-written backward (runtime/losses/FusedLosses.cpp). The
    composition is fused only when its intermediates have no other users, so
    nothing is computed twice; with `explain`, a remark says which op kept a
    composition from fusing.
  }];
  let options = [
    Option<"explain", "explain", "bool", /*default=*/"false",
           "Remark on each contrastive composition that was not fused, and why">,
  ];
  let dependentDialects = ["::expc::step::StepDialect"];
}

def StepGroupElementwise : Pass<"step-group-elementwise", "::mlir::ModuleOp"> {
  let summary = "Group chains of elementwise ops into step.fusion ops";
  let description = [{
    Each run of elementwise ops (`Step_Elementwise`: relu, gelu, tanh,
    sigmoid, exp, add, sub, mul) over one tensor shape becomes a
    `step.fusion` whose body holds the chain — for example a residual block's
    `relu(x + f(x))`. An op joins the group of an operand's producer when it
    has the same result type and no value of the group is used outside the
    group before it; values used after the group become its results, so a
    group never computes anything twice and never reorders a use. Scalar
    arithmetic (weighted sums of losses) and single ops are left alone.

    Runs last: grouping is a contract with the backend, not an optimisation
    the other passes look through. The CPU runtime runs a group's ops one by
    one (LibTorch, with autograd); a GPU runtime runs one generated kernel per
    group. With `explain`, a remark per graph counts the groups formed.
  }];
  let options = [
    Option<"explain", "explain", "bool", /*default=*/"false",
           "Remark on how many groups each graph got">,
  ];
  let dependentDialects = ["::expc::step::StepDialect"];
}

def StepGenerateGpuKernels : Pass<"step-generate-gpu-kernels", "::mlir::ModuleOp"> {
  let summary = "Generate a GPU kernel, forward and backward, for each step.fusion";
  let description = [{
    The GPU backend of `step-group-elementwise`'s contract (compiler/codegen/).
    Each group's element computation becomes two kernels in one `gpu.module`:
    `NAME` computes the group's results, `NAME_grad` recomputes them and
    runs reverse mode to the inputs' gradients, with LibTorch's formulas.
    Groups whose kernels would be the same (the same ops over the same kinds
    of inputs) share them. The module goes through upstream MLIR's lowering
    (math expanded into polynomials, `convert-gpu-to-nvvm`) and LLVM's NVPTX
    backend to PTX for `arch`, stored on the module as `step.gpu = {arch,
    block, ptx}`; each group names its kernel in `step.kernel`. The plan
    carries both (docs/artifact.md); a CUDA runtime loads the PTX with the
    driver API, and the CPU runtime ignores it.

    Runs only for `exp compile --target cuda`, after grouping. With
    `explain`, remarks say how many kernels were made and why a group got
    none; `keep-kernels` leaves the kernels' `gpu.module`, before lowering,
    in the output (for tests).
  }];
  let options = [
    Option<"arch", "arch", "std::string", /*default=*/"\"sm_80\"",
           "The GPU architecture the PTX is for (sm_75 .. sm_90)">,
    Option<"explain", "explain", "bool", /*default=*/"false",
           "Remark on the kernels made, and on each group that got none, and why">,
    Option<"keepKernels", "keep-kernels", "bool", /*default=*/"false",
           "Keep the generated gpu.module (before lowering) in the module">,
  ];
}

#endif // EXP_PASSES_TD
