//===- StepOps.td - the step-level dialect ----------------*- tablegen -*-===//
//
// Level 2 of the IR: tensor ops at ATen granularity, each mapping one-to-one
// onto a runtime kernel, plus the few directives (data source, training loop,
// evaluation) that tell the runtime what to run. Graphs are `func.func`s whose
// arguments carry `step.column` naming the dataset column they read.
//
//===----------------------------------------------------------------------===//

#ifndef STEP_OPS_TD
#define STEP_OPS_TD

include "mlir/IR/OpBase.td"
include "TrainSettings.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Step_Dialect : Dialect {
  let name = "step";
  let cppNamespace = "::expc::step";
  let hasRegionArgAttrVerify = 1;
  let summary = "Step-level tensor ops that map one-to-one onto runtime kernels";
  let description = [{
    Every tensor op here has exactly one kernel in the runtime (see
    runtime/exec/Kernels.cpp). Shapes are static except the leading batch
    dimension. The plan artifact is serialised from this level.
  }];
}

class Step_Op<string mnemonic, list<Trait> traits = []>
    : Op<Step_Dialect, mnemonic, traits>;

// An op whose result types follow from its operands and attributes: the shape
// function (inferReturnTypes, in StepShapes.cpp) also checks the operands, and
// builders without result types use it. A declared result may be less static
// than the inferred one (step-infer-shapes refines it), never different.
class Step_ShapedOp<string mnemonic, list<Trait> traits = []>
    : Step_Op<mnemonic, !listconcat(traits, [InferTypeOpAdaptor])> {
  let extraClassDeclaration = [{
    static bool isCompatibleReturnTypes(::mlir::TypeRange inferred, ::mlir::TypeRange declared) {
      return ::expc::step::typesAgree(inferred, declared);
    }
  }];
}

// Row i of the result depends only on row i of each batched operand (operands
// without a batch dimension, such as parameters and constants, are shared by
// all rows). Passes use it to move per-row work across the batch boundary:
// step-hoist-frozen-encoders computes such ops once per dataset row.
def Step_RowWise : NativeOpTrait<"RowWise"> {
  let cppNamespace = "::expc::step";
}

// The result is computed element by element from the operands, all of the
// result's shape or rank 0 (a scalar broadcast to every element), with no
// randomness: step-group-elementwise groups chains of such ops so a backend
// can run each chain as one kernel.
def Step_Elementwise : NativeOpTrait<"Elementwise"> {
  let cppNamespace = "::expc::step";
}

def Step_F32Tensor : TensorOf<[F32]>;
def Step_I64Tensor : TensorOf<[I64]>;

//===----------------------------------------------------------------------===//
// Parameters and constants
//===----------------------------------------------------------------------===//

def Step_ParameterOp : Step_Op<"parameter", [Symbol]> {
  let summary = "a trainable tensor with its initialisation";
  let description = [{
    `init` is `uniform` (U(-scale, scale)), `normal` (N(0, scale)) or
    `constant` (every element = scale). `decay` says whether weight decay
    applies; `max`, when present, clamps the value after every optimiser step
    (used for the CLIP logit scale). `frozen` parameters (of a frozen encoder)
    get no gradient and no optimiser updates. With `weights` (a safetensors
    file) the runtime replaces the initial value with the file's tensor
    `weights_name` (the name within its encoder), after checking its shape.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, TypeAttr:$type, StrAttr:$init,
                       F64Attr:$scale, BoolAttr:$decay, OptionalAttr<F64Attr>:$max,
                       UnitAttr:$frozen, OptionalAttr<StrAttr>:$weights,
                       OptionalAttr<StrAttr>:$weights_name);
  let assemblyFormat = "$sym_name `:` $type attr-dict";
  let hasVerifier = 1;
}

def Step_ParamOp : Step_Op<"param", [Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "read a parameter inside a graph";
  let arguments = (ins FlatSymbolRefAttr:$parameter);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$parameter attr-dict `:` type($result)";
}

def Step_ConstantOp : Step_ShapedOp<"constant", [Pure]> {
  let summary = "a scalar constant";
  let arguments = (ins F64Attr:$value);
  let results = (outs 0DTensorOf<[F32]>:$result);
  let assemblyFormat = "$value attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Network ops
//===----------------------------------------------------------------------===//

def Step_Conv2dOp : Step_ShapedOp<"conv2d", [Pure, Step_RowWise]> {
  let summary = "2-D convolution over (N, ..., C, H, W); a rank-0 `bias` (zero) means no bias";
  let arguments = (ins Step_F32Tensor:$input, Step_F32Tensor:$weight, Step_F32Tensor:$bias,
                       I64Attr:$stride, I64Attr:$padding);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input `,` $weight `,` $bias attr-dict `:` functional-type(operands, results)";
}

def Step_ReluOp : Step_Op<"relu", [Pure, Step_RowWise, Step_Elementwise, SameOperandsAndResultType,
                                   InferTypeOpInterface]> {
  let summary = "max(x, 0)";
  let arguments = (ins Step_F32Tensor:$input);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Step_MaxPool2dOp : Step_ShapedOp<"max_pool2d", [Pure, Step_RowWise]> {
  let summary = "2-D max pooling over (N, ..., C, H, W), with implicit -inf padding";
  let arguments = (ins Step_F32Tensor:$input, I64Attr:$kernel, I64Attr:$stride,
                       DefaultValuedAttr<I64Attr, "0">:$padding);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Step_AvgPool2dOp : Step_ShapedOp<"avg_pool2d", [Pure, Step_RowWise]> {
  let summary = "2-D average pooling over (N, ..., C, H, W), without padding";
  let arguments = (ins Step_F32Tensor:$input, I64Attr:$kernel, I64Attr:$stride);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Step_BatchNormOp : Step_ShapedOp<"batch_norm", [Pure, Step_RowWise]> {
  let summary = "batch normalisation over (N, ..., C, H, W), per channel C";
  let description = [{
    With `training`, normalises by the batch's statistics (over every
    leading dimension and the spatial ones) and updates the running mean and
    variance (frozen parameters: buffers, saved in checkpoints) with
    `momentum`, as nn.BatchNorm2d in train mode; without, normalises by the
    running statistics. Evaluation graphs and frozen encoders lower with
    `training` false; the runtime also runs it false for validation losses.
    (Rows are not independent in training; `Step_RowWise` holds for the
    evaluation form, which is the one step-hoist-frozen-encoders may move.)
  }];
  let arguments = (ins Step_F32Tensor:$input, Step_F32Tensor:$weight, Step_F32Tensor:$bias,
                       Step_F32Tensor:$running_mean, Step_F32Tensor:$running_var, BoolAttr:$training,
                       F64Attr:$momentum, F64Attr:$eps);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input `,` $weight `,` $bias `,` $running_mean `,` $running_var attr-dict `:` functional-type(operands, results)";
}

def Step_GlobalAvgPoolOp : Step_ShapedOp<"global_avg_pool", [Pure, Step_RowWise]> {
  let summary = "mean over the spatial dimensions: (N, ..., C, H, W) -> (N, ..., C)";
  let arguments = (ins Step_F32Tensor:$input);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Step_HandCraftedOp : Step_ShapedOp<"hand_crafted", [Pure, Step_RowWise]> {
  let summary = "CellProfiler-like features of each image: (N, ..., C, H, W) -> (N, ..., 9C + 4)";
  let description = [{
    Intensity, texture, foreground, colocalisation and nuclear-object
    features (runtime/exec/HandCrafted.h), computed without gradient: the
    classical baseline that learned profiles are compared with.
  }];
  let arguments = (ins Step_F32Tensor:$input);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Step_PerChannelOp : Step_ShapedOp<"per_channel", [Pure, Step_RowWise]> {
  let summary = "each channel as its own image: (N, ..., C, H, W) -> (N, ..., C, copies, H, W)";
  let description = [{
    The channel is repeated `copies` times as the new channel dimension, so
    an encoder of `copies`-channel images (an RGB backbone: 3) reads each
    fluorescence channel separately, as CellCLIP and MICON do.
  }];
  let arguments = (ins Step_F32Tensor:$input, I64Attr:$copies);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Step_LinearOp : Step_ShapedOp<"linear", [Pure, Step_RowWise]> {
  let summary = "x W^T + b over the last dimension; a rank-0 `b` (zero) means no bias";
  let arguments = (ins Step_F32Tensor:$input, Step_F32Tensor:$weight, Step_F32Tensor:$bias);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input `,` $weight `,` $bias attr-dict `:` functional-type(operands, results)";
}

def Step_EmbeddingLookupOp : Step_ShapedOp<"embedding_lookup", [Pure, Step_RowWise]> {
  let summary = "rows of a table selected by integer labels (N) or token ids (N, n)";
  let arguments = (ins Step_F32Tensor:$table, Step_I64Tensor:$indices);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$table `,` $indices attr-dict `:` functional-type(operands, results)";
}

class Step_UnaryOp<string mnemonic, string summaryText, list<Trait> traits = [Step_Elementwise]>
    : Step_Op<mnemonic, !listconcat([Pure, Step_RowWise, SameOperandsAndResultType,
                                     InferTypeOpInterface], traits)> {
  let summary = summaryText;
  let arguments = (ins Step_F32Tensor:$input);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Step_GeluOp : Step_UnaryOp<"gelu", "GELU (exact, erf form)">;
def Step_TanhOp : Step_UnaryOp<"tanh", "elementwise tanh">;
def Step_SigmoidOp : Step_UnaryOp<"sigmoid", "elementwise logistic sigmoid">;
// Not Step_Elementwise: a fused group's backward would have to stop its
// gradient part-way through.
def Step_DetachOp : Step_UnaryOp<"detach", "the identity forward; no gradient flows back", []>;

def Step_DropoutOp : Step_Op<"dropout", [SameOperandsAndResultType, InferTypeOpInterface]> {
  let summary = "inverted dropout with probability `p` (training graphs only)";
  let description = [{
    Evaluation graphs never contain it: lowering drops it there. Not `Pure`:
    two dropouts of one value draw different masks.
  }];
  let arguments = (ins Step_F32Tensor:$input, F64Attr:$p);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Token ops (transformers): sequences are (N, ..., n, d)
//===----------------------------------------------------------------------===//

def Step_PatchEmbedOp : Step_ShapedOp<"patch_embed", [Pure, Step_RowWise]> {
  let summary = "non-overlapping patches, linearly embedded: (N, ..., C, H, W) -> (N, ..., (H/p)(W/p), d)";
  let description = [{
    A `patch` x `patch` convolution with stride `patch` (weight (d, C, p, p),
    bias (d)), its spatial positions flattened into tokens in row-major order.
  }];
  let arguments = (ins Step_F32Tensor:$input, Step_F32Tensor:$weight, Step_F32Tensor:$bias,
                       I64Attr:$patch);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input `,` $weight `,` $bias attr-dict `:` functional-type(operands, results)";
}

def Step_PrependTokenOp : Step_ShapedOp<"prepend_token", [Pure, Step_RowWise]> {
  let summary = "a learned token (d) before every sequence: (N, ..., n, d) -> (N, ..., n + 1, d)";
  let arguments = (ins Step_F32Tensor:$input, Step_F32Tensor:$token);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input `,` $token attr-dict `:` functional-type(operands, results)";
}

def Step_InsertTokensOp : Step_ShapedOp<"insert_tokens", [Pure, Step_RowWise]> {
  let summary = "k tokens inserted at position `at` of each sequence: (N, ..., n, d), (N, ..., k, d) -> (N, ..., n + k, d)";
  let arguments = (ins Step_F32Tensor:$input, Step_F32Tensor:$tokens, I64Attr:$at);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input `,` $tokens attr-dict `:` functional-type(operands, results)";
}

def Step_AddPositionOp : Step_ShapedOp<"add_position", [Pure, Step_RowWise]> {
  let summary = "adds a learned (n, d) position embedding to every sequence";
  let arguments = (ins Step_F32Tensor:$input, Step_F32Tensor:$position);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input `,` $position attr-dict `:` functional-type(operands, results)";
}

def Step_AttentionOp : Step_ShapedOp<"attention", [Pure, Step_RowWise]> {
  let summary = "multi-head self-attention over each sequence's tokens";
  let description = [{
    `qkv_weight` (3d, d) and `qkv_bias` (3d) project to queries, keys and
    values, split into `heads` heads of d / heads; softmax(q k^T / sqrt(d /
    heads)) v per head, heads concatenated, then `out_weight` (d, d) and
    `out_bias` (d). Tokens attend within their own row only.
  }];
  let arguments = (ins Step_F32Tensor:$input, Step_F32Tensor:$qkv_weight,
                       Step_F32Tensor:$qkv_bias, Step_F32Tensor:$out_weight,
                       Step_F32Tensor:$out_bias, I64Attr:$heads);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $qkv_weight `,` $qkv_bias `,` $out_weight `,` $out_bias attr-dict `:`
    functional-type(operands, results)
  }];
}

def Step_TakeTokenOp : Step_ShapedOp<"take_token", [Pure, Step_RowWise]> {
  let summary = "token `index` of each sequence: (N, ..., n, d) -> (N, ..., d)";
  let arguments = (ins Step_F32Tensor:$input, I64Attr:$index);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Step_MeanTokensOp : Step_ShapedOp<"mean_tokens", [Pure, Step_RowWise]> {
  let summary = "mean over tokens `from`..n-1: (N, ..., n, d) -> (N, ..., d)";
  let arguments = (ins Step_F32Tensor:$input, I64Attr:$from);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Step_GatedAttentionPoolOp : Step_ShapedOp<"gated_attention_pool", [Pure, Step_RowWise]> {
  let summary = "gated-attention MIL pooling over bag instances: (N, ..., m, c, d) -> (N, ..., c, d)";
  let description = [{
    Ilse et al. (2018), separately per channel c: instance k scores
    s_k = w . (tanh(V x_k + v) * sigmoid(U x_k + u)), weights softmax_k(s),
    output sum_k a_k x_k. `v_weight`/`u_weight` are (hidden, d), their biases
    (hidden), `w` (hidden).
  }];
  let arguments = (ins Step_F32Tensor:$input, Step_F32Tensor:$v_weight, Step_F32Tensor:$v_bias,
                       Step_F32Tensor:$u_weight, Step_F32Tensor:$u_bias, Step_F32Tensor:$w);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $v_weight `,` $v_bias `,` $u_weight `,` $u_bias `,` $w attr-dict `:`
    functional-type(operands, results)
  }];
}

def Step_LayerNormOp : Step_ShapedOp<"layer_norm", [Pure, Step_RowWise]> {
  let summary = "layer normalisation over the last dimension, with affine weight and bias";
  let arguments = (ins Step_F32Tensor:$input, Step_F32Tensor:$weight, Step_F32Tensor:$bias,
                       F64Attr:$eps);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input `,` $weight `,` $bias attr-dict `:` functional-type(operands, results)";
}

def Step_ReshapeOp : Step_Op<"reshape", [Pure, Step_RowWise]> {
  let summary = "the same elements with another per-row shape (the batch dimension stays)";
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Step_ConcatOp : Step_ShapedOp<"concat", [Pure, Step_RowWise]> {
  let summary = "concatenation along the last dimension";
  let arguments = (ins Step_F32Tensor:$lhs, Step_F32Tensor:$rhs);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

def Step_SubOp : Step_ShapedOp<"sub", [Pure, Step_RowWise, Step_Elementwise]> {
  let summary = "elementwise difference; `rhs` may be a scalar";
  let arguments = (ins Step_F32Tensor:$lhs, Step_F32Tensor:$rhs);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Loss ops
//===----------------------------------------------------------------------===//

def Step_L2NormalizeOp : Step_Op<"l2_normalize", [Pure, Step_RowWise, SameOperandsAndResultType, InferTypeOpInterface]> {
  let summary = "x / max(||x||_2, eps) along the last dimension";
  let arguments = (ins Step_F32Tensor:$input);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Step_MatmulOp : Step_ShapedOp<"matmul", [Pure]> {
  let summary = "a b, or a b^T when `transpose_b`";
  let arguments = (ins Step_F32Tensor:$lhs, Step_F32Tensor:$rhs, BoolAttr:$transpose_b);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

def Step_TransposeOp : Step_ShapedOp<"transpose", [Pure]> {
  let summary = "swap the two dimensions of a matrix";
  let arguments = (ins Step_F32Tensor:$input);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Step_ExpOp : Step_Op<"exp", [Pure, Step_RowWise, Step_Elementwise, SameOperandsAndResultType,
                                 InferTypeOpInterface]> {
  let summary = "elementwise e^x";
  let arguments = (ins Step_F32Tensor:$input);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Step_MulOp : Step_ShapedOp<"mul", [Pure, Step_RowWise, Step_Elementwise]> {
  let summary = "elementwise product; `rhs` may be a scalar";
  let arguments = (ins Step_F32Tensor:$lhs, Step_F32Tensor:$rhs);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

def Step_AddOp : Step_ShapedOp<"add", [Pure, Step_RowWise, Step_Elementwise]> {
  let summary = "elementwise sum; `rhs` may be a scalar";
  let arguments = (ins Step_F32Tensor:$lhs, Step_F32Tensor:$rhs);
  let results = (outs Step_F32Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

def Step_ArangeRowsOp : Step_ShapedOp<"arange_rows", [Pure]> {
  let summary = "0, 1, ..., N-1 for an input with N rows (the targets of InfoNCE)";
  let arguments = (ins Step_F32Tensor:$input);
  let results = (outs 1DTensorOf<[I64]>:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Step_CrossEntropyOp : Step_ShapedOp<"cross_entropy", [Pure]> {
  let summary = "mean softmax cross-entropy of logits (N, K) against labels (N)";
  let arguments = (ins Step_F32Tensor:$logits, Step_I64Tensor:$targets);
  let results = (outs 0DTensorOf<[F32]>:$result);
  let assemblyFormat = "$logits `,` $targets attr-dict `:` functional-type(operands, results)";
}

def Step_ContrastiveLossOp : Step_ShapedOp<"contrastive_loss", [Pure]> {
  let summary = "fused contrastive loss with a hand-written backward";
  let description = [{
    One kernel for L2-normalise both sides, the similarity matmul, the
    temperature scale and the cross-entropy in both directions:

    * `clip`: 0.5 (CE(L, I) + CE(L^T, I)), L = scale * norm(lhs) norm(rhs)^T;
    * `infoloob`: CLOOB's InfoLOOB — the positive left out of each
      log-sum-exp — in both directions, divided by `scale`.

    `step-fuse-contrastive-loss` forms it from the unfused composition. Its
    backward keeps one N x N buffer instead of the composition's several.

    ```mlir
    %loss = step.contrastive_loss "clip" %a, %b, %scale
        : (tensor<?x32xf32>, tensor<?x32xf32>, tensor<f32>) -> tensor<f32>
    ```
  }];
  let arguments = (ins StrAttr:$kind, Step_F32Tensor:$lhs, Step_F32Tensor:$rhs,
                       0DTensorOf<[F32]>:$scale);
  let results = (outs 0DTensorOf<[F32]>:$result);
  let assemblyFormat = "$kind $lhs `,` $rhs `,` $scale attr-dict `:` functional-type(operands, results)";
}

def Step_LossOp : Step_ShapedOp<"loss", [Pure]> {
  let summary = "one of the runtime's objectives over its operands";
  let description = [{
    A stdlib objective other than CLIP (runtime/losses/Objectives.h lists
    each kind's operands in order; docs/objectives.md its formula), with its
    scalar settings in `params`. The runtime composes it from LibTorch ops,
    so autograd gives its backward.

    ```mlir
    %loss = step.loss "supcon" %a, %b, %labels {params = {temperature = 0.1}}
        : (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?xi64>) -> tensor<f32>
    ```
  }];
  let arguments = (ins StrAttr:$kind, Variadic<AnyRankedTensor>:$inputs, DictionaryAttr:$params);
  let results = (outs 0DTensorOf<[F32]>:$result);
  let assemblyFormat = "$kind $inputs attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Fusion groups
//===----------------------------------------------------------------------===//

def Step_FusionOp : Step_Op<"fusion", [Pure, IsolatedFromAbove, SingleBlock]> {
  let summary = "a chain of elementwise ops that a backend may run as one kernel";
  let description = [{
    The body reads only its block arguments (bound to `inputs`) and yields
    the values used outside the group; every op in it is `Step_Elementwise`
    with the group's shape (or a scalar operand). `step-group-elementwise`
    forms these. The plan keeps the body's ops in line, in order, and lists
    the group in the graph's `fusions` table (docs/artifact.md): a CPU runtime
    runs the ops one by one through LibTorch, a GPU runtime one generated
    kernel per group.

    ```mlir
    %r = step.fusion(%x, %skip) : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32> {
    ^bb0(%a: tensor<?x64xf32>, %b: tensor<?x64xf32>):
      %s = step.add %a, %b : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
      %t = step.relu %s : tensor<?x64xf32>
      step.yield %t : tensor<?x64xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$inputs);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "`(` $inputs `)` attr-dict `:` functional-type($inputs, $results) $body";
  let hasVerifier = 1;
}

def Step_YieldOp : Step_Op<"yield", [Pure, Terminator, HasParent<"FusionOp">]> {
  let summary = "the values a step.fusion group produces";
  let arguments = (ins Variadic<AnyRankedTensor>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

//===----------------------------------------------------------------------===//
// Directives
//===----------------------------------------------------------------------===//

def Step_SourceOp : Step_Op<"source"> {
  let summary = "the data source graphs read their columns from";
  let description = [{
    `augment` (from `exp.dataset`) makes its image columns vary between
    training steps: nothing that reads them is hoisted out of the loop.
    `select` carries `exp.dataset`'s row selections unchanged.
  }];
  let arguments = (ins StrAttr:$name, StrAttr:$kind, DictionaryAttr:$params,
                       OptionalAttr<DictionaryAttr>:$augment,
                       DefaultValuedAttr<F64Attr, "0.0">:$val_fraction,
                       DefaultValuedAttr<I64Attr, "1">:$bag,
                       OptionalAttr<DictionaryAttr>:$select);
  let assemblyFormat = "$name $kind $params attr-dict";
}

def Step_TrainLoopOp : Step_Op<"train_loop", [DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "minimise the scalar a graph returns over the dataset";
  let description = [{
    Carries `exp.train`'s settings unchanged (see there).
  }];
  let arguments = !con((ins FlatSymbolRefAttr:$graph, StrAttr:$name, I64Attr:$epochs,
                            I64Attr:$batch, I64Attr:$seed, StrAttr:$optimizer,
                            DictionaryAttr:$optimizer_params),
                       Exp_TrainLoopSettings);
  let assemblyFormat = "$graph attr-dict";
}

def Step_EvaluateOp : Step_Op<"evaluate", [DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "run embedding graphs over held-out data and score them";
  let arguments = (ins StrAttr:$metric, StrAttr:$name, FlatSymbolRefArrayAttr:$graphs,
                       DictionaryAttr:$options);
  let assemblyFormat = "$metric $name $graphs $options attr-dict";
}

def Step_PrecomputeOp : Step_Op<"precompute", [DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "compute a graph once per dataset row, before training, and cache it";
  let description = [{
    The runtime runs `graph` without gradients over every row of the
    dataset (training and held-out) before the first step, and caches its outputs by content
    hash (of the graph, its frozen parameters' values and its input columns'
    values) under `$EXP_CACHE_DIR/features/` as safetensors. Graph arguments
    marked `step.features = @graph, step.output = i` read output `i` of it
    for the rows of their batch.

    `step-hoist-frozen-encoders` creates these. The verifier checks what
    makes computing once sound: the graph reads only dataset columns, every
    parameter it reads is frozen, and it has no random ops.
  }];
  let arguments = (ins FlatSymbolRefAttr:$graph);
  let assemblyFormat = "$graph attr-dict";
}

#endif // STEP_OPS_TD
