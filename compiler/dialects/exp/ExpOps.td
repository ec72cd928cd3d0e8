//===- ExpOps.td - the experiment-level `exp` dialect -----*- tablegen -*-===//
//
// Level 1 of the IR: one op per declared thing of an experiment (dataset,
// column, encoder, encoder application, objective, training, evaluation).
// It is what the front end emits and what whole-experiment passes (dead side
// information elimination, frozen-encoder hoisting, ...) reason about.
//
//===----------------------------------------------------------------------===//

#ifndef EXP_OPS_TD
#define EXP_OPS_TD

include "mlir/IR/OpBase.td"
include "TrainSettings.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Exp_Dialect : Dialect {
  let name = "exp";
  let cppNamespace = "::expc::expd";
  let summary = "The experiment-level dialect: datasets, encoders, objectives, training, evaluation";
  let description = [{
    Values of this dialect are whole experiment parts rather than tensors:
    a dataset handle, a column of it (images or labels), the embedding an
    encoder computes from a column, a loss. Encoders are symbols so that two
    applications of one encoder share parameters.
  }];
  let useDefaultTypePrinterParser = 1;
}

class Exp_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Exp_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def Exp_DatasetType : Exp_Type<"Dataset", "dataset"> {
  let summary = "a dataset";
}

def Exp_ImagesType : Exp_Type<"Images", "images"> {
  let summary = "a column of multi-channel images";
  let parameters = (ins "int64_t":$channels, "int64_t":$height, "int64_t":$width);
  let assemblyFormat = "`<` $channels `,` $height `,` $width `>`";
  let genVerifyDecl = 1;
}

def Exp_BagType : Exp_Type<"Bag", "bag"> {
  let summary = "a column of bags: `count` images (the sites of a well) per row";
  let parameters = (ins "int64_t":$count, "ImagesType":$element);
  let assemblyFormat = "`<` $count `,` $element `>`";
  let genVerifyDecl = 1;
}

def Exp_LabelsType : Exp_Type<"Labels", "labels"> {
  let summary = "a categorical column (perturbation, plate, ...)";
  let description = [{
    `classes` is the number of classes; 0 when only the data knows it (a real
    source's `compound` or `gene`, counted when the files are read). Such a
    column can label rows (objectives' `labels`, evaluations' `sameby`) but
    not size a table (`EmbeddingTable`, `recall_at`'s candidates).
  }];
  let parameters = (ins "int64_t":$classes);
  let assemblyFormat = "`<` $classes `>`";
  let genVerifyDecl = 1;
}

def Exp_EmbeddingType : Exp_Type<"Embedding", "embedding"> {
  let summary = "one vector (or, with more dims, one tensor) per sample";
  let description = [{
    `!exp.embedding<512>` is a vector per row, what objectives pair and
    evaluations score. More dimensions are an encoder's per-row tensor that
    only an objective's feature input takes: a frozen backbone's per-channel
    features over a bag of sites, `!exp.embedding<6, 5, 64>` (sites,
    channels, width), CWCL's `features`.
  }];
  let parameters = (ins ArrayRefParameter<"int64_t">:$shape);
  let builders = [
    TypeBuilder<(ins "int64_t":$dim), [{ return $_get($_ctxt, ArrayRef<int64_t>{dim}); }]>
  ];
  let assemblyFormat = "`<` $shape `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    // The width: the last dimension.
    int64_t getDim() const { return getShape().back(); }
    bool isVector() const { return getShape().size() == 1; }
  }];
}

def Exp_TokenIdsType : Exp_Type<"TokenIds", "token_ids"> {
  let summary = "WordPiece ids of a text side, `length` per row";
  let description = [{
    A `text` side's prompt for each row, tokenised: [CLS], the word pieces,
    [SEP], padded with [PAD] to `length`. The compiler hoists a text
    encoder's `tokenize` layer into the side (its vocabulary and length
    become the side's parameters), so the network takes the ids; the
    runtime renders and tokenises once per run (docs/sideinfo.md).
  }];
  let parameters = (ins "int64_t":$length);
  let assemblyFormat = "`<` $length `>`";
  let genVerifyDecl = 1;
}

def Exp_KGraphType : Exp_Type<"KGraph", "kgraph"> {
  let summary = "a knowledge graph over the classes of a labels column";
  let description = [{
    A `classes` x `classes` weight matrix relating the classes (siRNAs,
    compounds) of the labels column it was built over; the runtime reads and
    maps it once per run (docs/sideinfo.md).
  }];
  let parameters = (ins "int64_t":$classes);
  let assemblyFormat = "`<` $classes `>`";
}

def Exp_LossType : Exp_Type<"Loss", "loss"> {
  let summary = "a scalar training objective";
}

def Exp_ColumnType : AnyTypeOf<[Exp_ImagesType, Exp_BagType, Exp_LabelsType]>;

class Exp_Op<string mnemonic, list<Trait> traits = []>
    : Op<Exp_Dialect, mnemonic, traits>;

def Exp_ExperimentOp : Exp_Op<"experiment", [
    IsolatedFromAbove, SymbolTable, Symbol, NoTerminator, SingleBlock]> {
  let summary = "one experiment: everything one .exp file declares";
  let description = [{
    Holds the experiment's ops in declaration-dependency order. Encoders are
    symbols in its symbol table.

    ```mlir
    exp.experiment @clip_screen {
      %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, ...}
      ...
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
}

def Exp_DatasetOp : Exp_Op<"dataset", [Pure]> {
  let summary = "a dataset from a source with parameters";
  let description = [{
    `source` names a reader or generator (`simulated_screen`); `params` are
    its resolved parameters, defaults included. `augment`, when present, holds
    the training-time augmentations of its image columns (`crop`, `flip`,
    `rot90`, `intensity`), drawn afresh for every batch. `val_fraction` of the
    training wells are kept aside as validation rows (early stopping). `bag`
    > 1 makes the rows wells and each image column a bag of that many of the
    well's sites (`!exp.bag`), drawn afresh for every training batch.
    `select`, when present, holds the dataset block's row selections:
    `hold_out`, `keep` and `drop`, each a dictionary from a column to the
    values (strings, as the source's metadata writes them) it selects.
  }];
  let arguments = (ins StrAttr:$name, StrAttr:$source, DictionaryAttr:$params,
                       OptionalAttr<DictionaryAttr>:$augment,
                       DefaultValuedAttr<F64Attr, "0.0">:$val_fraction,
                       DefaultValuedAttr<I64Attr, "1">:$bag,
                       OptionalAttr<DictionaryAttr>:$select);
  let results = (outs Exp_DatasetType:$result);
  let assemblyFormat = "$name $source $params attr-dict";
  let hasVerifier = 1;
}

def Exp_ColumnOp : Exp_Op<"column", [Pure]> {
  let summary = "a column of a dataset";
  let description = [{
    The result type must be the column's type as implied by the dataset's
    parameters (for `image`: its channel count and size).
  }];
  let arguments = (ins Exp_DatasetType:$dataset, StrAttr:$column);
  let results = (outs Exp_ColumnType:$result);
  let assemblyFormat = "$dataset $column attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Exp_EncoderOp : Exp_Op<"encoder", [Symbol, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "an encoder: a network with parameters";
  let description = [{
    A network (`kind` names it) with its resolved hyperparameters. When the
    network is written in `.exp`, `network` refers to the `exp.network` of its
    instantiation; otherwise `kind` is a pretrained extern encoder
    (`dino_vitb8`, `dinov2_giant`) or side information featurised by the
    runtime (`embedding_file`, `transcriptome`, `morgan`: a vector per class
    of the labels column it is applied to, `params` saying how; `text`: the
    token ids of each row's prompt, keyed by its template's first column,
    with the template, vocabulary file and length as `params`). All
    applications of one encoder share its parameters; `frozen` ones are not
    trained. `weights` names a safetensors file its parameters start from
    (the encoder block's `weights` setting).
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$kind, DictionaryAttr:$params,
                       OptionalAttr<FlatSymbolRefAttr>:$network, UnitAttr:$frozen,
                       OptionalAttr<StrAttr>:$weights);
  let assemblyFormat = "$sym_name $kind $params (`network` $network^)? (`frozen` $frozen^)? attr-dict";
  let hasVerifier = 1;
}

def Exp_NetworkOp : Exp_Op<"network", [Symbol, IsolatedFromAbove, SingleBlock]> {
  let summary = "one instantiation of a network written in .exp: a layer graph";
  let description = [{
    The body of a network as semantic analysis instantiated it: every shape
    and configuration resolved, `repeat` unrolled, `if` decided. Block
    arguments are the network's data inputs as per-row tensors (no batch
    dimension); `exp.yield` returns its output. Bodies hold `exp.layer`,
    `exp.call` (a nested network) and `exp.apply` (an encoder argument).
    `exp-inline-networks` flattens the calls.

    ```mlir
    exp.network @MLP_0 "MLP" {
    ^bb0(%x: tensor<64xf32>):
      %h = exp.layer "linear" "0.linear" (%x) {d = 64 : i64, out = 128 : i64} : (tensor<64xf32>) -> tensor<128xf32>
      exp.yield %h : tensor<128xf32>
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$network);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name $network attr-dict-with-keyword $body";
  let hasVerifier = 1;
}

def Exp_LayerOp : Exp_Op<"layer", [Pure]> {
  let summary = "a primitive layer of std.layers, or tensor arithmetic";
  let description = [{
    `layer` names an `extern layer` of std.layers (`linear`, `conv2d`, ...) or
    arithmetic on tensors (`add`, `sub`, `mul`, `scale` by `factor`).
    `config` holds every constant the call bound, shape variables included.
    `name` is unique in its network; parameters the layer creates are named
    after it, prefixed by the encoder's name.
  }];
  let arguments = (ins StrAttr:$layer, StrAttr:$name, Variadic<AnyRankedTensor>:$inputs,
                       DictionaryAttr:$config);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$layer $name `(` $inputs `)` $config attr-dict `:` functional-type($inputs, $result)";
}

def Exp_CallOp : Exp_Op<"call", [DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "a nested network instantiation";
  let arguments = (ins FlatSymbolRefAttr:$callee, StrAttr:$name, Variadic<AnyRankedTensor>:$inputs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$callee $name `(` $inputs `)` attr-dict `:` functional-type($inputs, $result)";
}

def Exp_ApplyOp : Exp_Op<"apply", [DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "an encoder passed to a network, applied inside it";
  let description = [{
    Applies the experiment's `encoder` (sharing its parameters with every
    other application) to per-row tensors, as CellCLIP's image network applies
    its `backbone`.
  }];
  let arguments = (ins FlatSymbolRefAttr:$encoder, StrAttr:$name, Variadic<AnyRankedTensor>:$inputs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$encoder $name `(` $inputs `)` attr-dict `:` functional-type($inputs, $result)";
}

def Exp_YieldOp : Exp_Op<"yield", [Pure, Terminator, HasParent<"NetworkOp">]> {
  let summary = "the output of a network";
  let arguments = (ins AnyRankedTensor:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

def Exp_EncodeOp : Exp_Op<"encode", [Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "apply an encoder to a column";
  let description = [{
    The encoder's network over each row of `input`: a column, or per-row
    side information (the result of an `exp.encode` of a side encoder such as
    `morgan`, which turns a labels column's values into vectors, or `text`,
    which gives each row the token ids of its prompt). A network
    with several data parameters takes the others, in order, as `extra`
    (a ViT's cell-line `condition`, a generator's molecule embedding).
  }];
  let arguments = (ins FlatSymbolRefAttr:$encoder,
                       AnyTypeOf<[Exp_ImagesType, Exp_BagType, Exp_LabelsType, Exp_EmbeddingType,
                                  Exp_TokenIdsType]>:$input,
                       Variadic<AnyTypeOf<[Exp_ImagesType, Exp_BagType, Exp_LabelsType, Exp_EmbeddingType,
                                           Exp_TokenIdsType]>>:$extra);
  let results = (outs AnyTypeOf<[Exp_EmbeddingType, Exp_KGraphType, Exp_TokenIdsType]>:$result);
  let assemblyFormat = "$encoder `(` $input (`,` $extra^)? `)` attr-dict `:` functional-type(operands, $result)";
}

def Exp_ContrastiveOp : Exp_Op<"contrastive", [Pure]> {
  let summary = "a contrastive loss between two batches of paired embeddings";
  let description = [{
    `clip`: symmetric InfoNCE with logit scale exp(s), s initialised to
    log(1 / temperature), learnable when `learnable_temperature`, clamped to
    at most log(`max_logit_scale`). Parameters it creates are named after
    `name`.
  }];
  let arguments = (ins StrAttr:$kind, StrAttr:$name, Exp_EmbeddingType:$lhs,
                       Exp_EmbeddingType:$rhs, F64Attr:$temperature,
                       BoolAttr:$learnable_temperature, F64Attr:$max_logit_scale);
  let results = (outs Exp_LossType:$result);
  let assemblyFormat = "$kind $name $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs)";
  let hasVerifier = 1;
}

def Exp_ObjectiveOp : Exp_Op<"objective", [Pure]> {
  let summary = "one of std.objectives' losses other than CLIP";
  let description = [{
    `kind` names the objective; `inputs` are its data arguments in the
    stdlib's order (embeddings, labels columns, a knowledge graph) and
    `params` its scalar settings. Per kind:

    | kind | inputs |
    | --- | --- |
    | `cwcl` | image, text, features (the frozen per-channel input features) |
    | `cloob`, `siglip` | a, b |
    | `s2l` | a, b, targets (e.g. fingerprints: soft targets from their Tanimoto similarity) |
    | `supcon` | a, b, labels |
    | `paclr` | treated1, control1, treated2, control2, labels |
    | `kg_soft_targets`, `kg_laplacian` | x, labels, graph |
    | `classify` | x, labels (with a declared class count: the head's size) |
    | `simclr` | x (its images' column is drawn twice, augmented) |

    Parameters it creates (logit scales, biases, heads) are named after `name`.
  }];
  let arguments = (ins StrAttr:$kind, StrAttr:$name, Variadic<AnyType>:$inputs,
                       DictionaryAttr:$params);
  let results = (outs Exp_LossType:$result);
  let assemblyFormat = "$kind $name `(` $inputs `)` $params attr-dict `:` type($inputs)";
  let hasVerifier = 1;
}

def Exp_WeightedSumOp : Exp_Op<"weighted_sum", [Pure]> {
  let summary = "an objective as a weighted sum of losses";
  let arguments = (ins Variadic<Exp_LossType>:$terms, DenseF64ArrayAttr:$weights);
  let results = (outs Exp_LossType:$result);
  let assemblyFormat = "$terms $weights attr-dict";
  let hasVerifier = 1;
}

def Exp_TrainOp : Exp_Op<"train"> {
  let summary = "train the parameters an objective depends on";
  let description = [{
    The loop settings of a `train` block. `steps` > 0 replaces `epochs` as the
    budget of optimiser steps; an optimiser step consumes `accumulate`
    batches. `schedule` is `constant_lr`, `warmup_cosine`, `one_cycle` or
    `reduce_on_plateau` with its parameters; `clip_grad_norm` > 0 clips the
    global gradient norm; `precision` is `fp32` or `bf16` (autocast);
    `deterministic` asks the runtime for reproducible kernels;
    `early_stop_patience` > 0 stops after that many epochs without a lower
    loss on the dataset's validation rows and keeps the best parameters.
  }];
  let arguments = !con((ins Exp_LossType:$objective, StrAttr:$name, I64Attr:$epochs,
                            I64Attr:$batch, I64Attr:$seed, StrAttr:$optimizer,
                            DictionaryAttr:$optimizer_params),
                       Exp_TrainLoopSettings);
  let assemblyFormat = "$name $objective attr-dict";
  let hasVerifier = 1;
}

def Exp_EvaluateOp : Exp_Op<"evaluate"> {
  let summary = "evaluate embeddings with a metric";
  let description = [{
    Embeddings of held-out rows, and the names of the label columns the
    metric reads: `replicate_map` takes one embedding and `sameby`/`diffby`;
    `recall_at` a query (image) and a candidate (labels) embedding and `k`;
    `knn_retrieval` one embedding, `labels`, `exclude_same` and `k`;
    `zero_shot` an image and a molecule embedding, `labels` and `top`;
    `clustering` one embedding, `labels` and `batch`; `few_shot` one
    embedding, `labels`, `top` and the probe's training settings.
  }];
  let arguments = (ins StrAttr:$metric, StrAttr:$name, Variadic<Exp_EmbeddingType>:$inputs,
                       DictionaryAttr:$options);
  let assemblyFormat = "$metric $name `(` $inputs `)` $options attr-dict `:` type($inputs)";
  let hasVerifier = 1;
}

#endif // EXP_OPS_TD
