// Verifier errors of the exp dialect.
// RUN: exp-opt %s -split-input-file -verify-diagnostics

exp.experiment @channels {
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  // expected-error @+1 {{column 'image' has type '!exp.images<3, 32, 32>', not '!exp.images<5, 32, 32>'}}
  %img = exp.column %ds "image" : !exp.images<5, 32, 32>
}

// -----

// The network takes 3-channel rows; the column has 5 channels.
exp.experiment @encoder_input {
  exp.network @Cnn_0 "SmallCNN" {
  ^bb0(%x: tensor<3x32x32xf32>):
    %c = exp.layer "conv2d" "1.conv2d" (%x) {c = 3 : i64, out = 8 : i64, kernel = 3 : i64, stride = 1 : i64, padding = 1 : i64} : (tensor<3x32x32xf32>) -> tensor<8x32x32xf32>
    %p = exp.layer "global_avg_pool" "2.global_avg_pool" (%c) {} : (tensor<8x32x32xf32>) -> tensor<8xf32>
    %h = exp.call @Head_1 "3.Head" (%p) : (tensor<8xf32>) -> tensor<32xf32>
    exp.yield %h : tensor<32xf32>
  }
  exp.network @Head_1 "Head" {
  ^bb0(%x: tensor<8xf32>):
    %y = exp.layer "linear" "1.linear" (%x) {d = 8 : i64, out = 32 : i64} : (tensor<8xf32>) -> tensor<32xf32>
    exp.yield %y : tensor<32xf32>
  }
  exp.network @Table_2 "EmbeddingTable" {
  ^bb0(%x: tensor<i64>):
    %y = exp.layer "embedding" "1.embedding" (%x) {k = 17 : i64, dim = 32 : i64} : (tensor<i64>) -> tensor<32xf32>
    exp.yield %y : tensor<32xf32>
  }
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 5 : i64, image_size = 32 : i64}
  %img = exp.column %ds "image" : !exp.images<5, 32, 32>
  exp.encoder @cnn "SmallCNN" {} network @Cnn_0
  // expected-error @+1 {{applies network 'Cnn_0' to rows of types 'tensor<5x32x32xf32>', but it takes 'tensor<3x32x32xf32>'}}
  %a = exp.encode @cnn(%img) : (!exp.images<5, 32, 32>) -> !exp.embedding<32>
}

// -----

exp.experiment @encoder_output {
  exp.network @Table8 "EmbeddingTable" {
  ^bb0(%x: tensor<i64>):
    %y = exp.layer "embedding" "1.embedding" (%x) {k = 17 : i64, dim = 8 : i64} : (tensor<i64>) -> tensor<8xf32>
    exp.yield %y : tensor<8xf32>
  }
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  %pert = exp.column %ds "perturbation" : !exp.labels<17>
  exp.encoder @table "EmbeddingTable" {} network @Table8
  // expected-error @+1 {{network 'Table8' produces 'tensor<8xf32>', not '!exp.embedding<64>'}}
  %b = exp.encode @table(%pert) : (!exp.labels<17>) -> !exp.embedding<64>
}

// -----

exp.experiment @widths {
  exp.network @Cnn_0 "SmallCNN" {
  ^bb0(%x: tensor<3x32x32xf32>):
    %c = exp.layer "conv2d" "1.conv2d" (%x) {c = 3 : i64, out = 8 : i64, kernel = 3 : i64, stride = 1 : i64, padding = 1 : i64} : (tensor<3x32x32xf32>) -> tensor<8x32x32xf32>
    %p = exp.layer "global_avg_pool" "2.global_avg_pool" (%c) {} : (tensor<8x32x32xf32>) -> tensor<8xf32>
    %h = exp.call @Head_1 "3.Head" (%p) : (tensor<8xf32>) -> tensor<32xf32>
    exp.yield %h : tensor<32xf32>
  }
  exp.network @Head_1 "Head" {
  ^bb0(%x: tensor<8xf32>):
    %y = exp.layer "linear" "1.linear" (%x) {d = 8 : i64, out = 32 : i64} : (tensor<8xf32>) -> tensor<32xf32>
    exp.yield %y : tensor<32xf32>
  }
  exp.network @Table_2 "EmbeddingTable" {
  ^bb0(%x: tensor<i64>):
    %y = exp.layer "embedding" "1.embedding" (%x) {k = 17 : i64, dim = 32 : i64} : (tensor<i64>) -> tensor<32xf32>
    exp.yield %y : tensor<32xf32>
  }
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  %img = exp.column %ds "image" : !exp.images<3, 32, 32>
  %pert = exp.column %ds "perturbation" : !exp.labels<17>
  exp.encoder @cnn "SmallCNN" {} network @Cnn_0
  exp.encoder @table "EmbeddingTable" {} network @Table8
  exp.network @Table8 "EmbeddingTable" {
  ^bb0(%x: tensor<i64>):
    %y = exp.layer "embedding" "1.embedding" (%x) {k = 17 : i64, dim = 8 : i64} : (tensor<i64>) -> tensor<8xf32>
    exp.yield %y : tensor<8xf32>
  }
  %a = exp.encode @cnn(%img) : (!exp.images<3, 32, 32>) -> !exp.embedding<32>
  %b = exp.encode @table(%pert) : (!exp.labels<17>) -> !exp.embedding<8>
  // expected-error @+1 {{pairs embeddings of width 32 and 8}}
  %l = exp.contrastive "clip" "align" %a, %b {temperature = 0.07, learnable_temperature = true, max_logit_scale = 100.0} : !exp.embedding<32>, !exp.embedding<8>
}

// -----

exp.experiment @scale {
  exp.network @Table8 "EmbeddingTable" {
  ^bb0(%x: tensor<i64>):
    %y = exp.layer "embedding" "1.embedding" (%x) {k = 17 : i64, dim = 8 : i64} : (tensor<i64>) -> tensor<8xf32>
    exp.yield %y : tensor<8xf32>
  }
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  %pert = exp.column %ds "perturbation" : !exp.labels<17>
  exp.encoder @table "EmbeddingTable" {} network @Table8
  %b = exp.encode @table(%pert) : (!exp.labels<17>) -> !exp.embedding<8>
  // expected-error @+1 {{initial logit scale 1/0.001 exceeds max_logit_scale 100}}
  %l = exp.contrastive "clip" "align" %b, %b {temperature = 0.001, learnable_temperature = true, max_logit_scale = 100.0} : !exp.embedding<8>, !exp.embedding<8>
}

// -----

exp.experiment @holdout {
  // expected-error @+1 {{holds out every plate; none are left for training}}
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 2 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
}

// -----

exp.experiment @unknown_encoder {
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  %pert = exp.column %ds "perturbation" : !exp.labels<17>
  // expected-error @+1 {{'missing' does not name an exp.encoder}}
  %b = exp.encode @missing(%pert) : (!exp.labels<17>) -> !exp.embedding<8>
}

// -----

exp.experiment @unknown_network {
  // expected-error @+1 {{'Nowhere' does not name an exp.network}}
  exp.encoder @cnn "SmallCNN" {} network @Nowhere
}

// -----

exp.experiment @extern_kind {
  // expected-error @+1 {{unknown encoder kind 'resnet9000'; encoders written in .exp need a `network`}}
  exp.encoder @r "resnet9000" {}
}

// -----

exp.experiment @pretrained_channels {
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 5 : i64, image_size = 32 : i64}
  %img = exp.column %ds "image" : !exp.images<5, 32, 32>
  exp.encoder @dino "dino_vitb8" {} frozen
  // expected-error @+1 {{dino_vitb8 takes 3-channel images}}
  %a = exp.encode @dino(%img) : (!exp.images<5, 32, 32>) -> !exp.embedding<768>
}

// -----

exp.experiment @call_signature {
  exp.network @Head "Head" {
  ^bb0(%x: tensor<8xf32>):
    %y = exp.layer "linear" "1.linear" (%x) {d = 8 : i64, out = 32 : i64} : (tensor<8xf32>) -> tensor<32xf32>
    exp.yield %y : tensor<32xf32>
  }
  exp.network @Outer "Outer" {
  ^bb0(%x: tensor<4xf32>):
    // expected-error @+1 {{passes 'tensor<4xf32>' to network 'Head', which takes 'tensor<8xf32>'}}
    %y = exp.call @Head "1.Head" (%x) : (tensor<4xf32>) -> tensor<32xf32>
    exp.yield %y : tensor<32xf32>
  }
}

// -----

exp.experiment @no_yield {
  // expected-error @+1 {{must end with exp.yield}}
  exp.network @Empty "Empty" {
  ^bb0(%x: tensor<4xf32>):
    %y = exp.layer "relu" "1.relu" (%x) {} : (tensor<4xf32>) -> tensor<4xf32>
  }
}

// -----

// An encoder may run over extra leading dimensions (here: 3 channels encoded
// separately), but its result must carry the same ones.
exp.experiment @apply_leading {
  exp.network @Head "Head" {
  ^bb0(%x: tensor<8xf32>):
    %y = exp.layer "linear" "1.linear" (%x) {d = 8 : i64, out = 4 : i64} : (tensor<8xf32>) -> tensor<4xf32>
    exp.yield %y : tensor<4xf32>
  }
  exp.encoder @head "Head" {} network @Head
  exp.network @Outer "Outer" {
  ^bb0(%x: tensor<3x8xf32>):
    %ok = exp.apply @head "1.head" (%x) : (tensor<3x8xf32>) -> tensor<3x4xf32>
    // expected-error @+1 {{expects 'tensor<2x4xf32>' from encoder 'head', which gives 'tensor<4xf32>' over the inputs' leading dimensions}}
    %y = exp.apply @head "2.head" (%x) : (tensor<3x8xf32>) -> tensor<2x4xf32>
    exp.yield %y : tensor<2x4xf32>
  }
}

// -----

// exp.objective checks each kind's inputs.
exp.experiment @objective_byol {
  exp.network @Table8 "EmbeddingTable" {
  ^bb0(%x: tensor<i64>):
    %y = exp.layer "embedding" "1.embedding" (%x) {k = 17 : i64, dim = 8 : i64} : (tensor<i64>) -> tensor<8xf32>
    exp.yield %y : tensor<8xf32>
  }
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  %pert = exp.column %ds "perturbation" : !exp.labels<17>
  exp.encoder @table "EmbeddingTable" {} network @Table8
  %b = exp.encode @table(%pert) : (!exp.labels<17>) -> !exp.embedding<8>
  // expected-error @+1 {{unknown objective 'byol'}}
  %l = exp.objective "byol" "x"(%b) {} : !exp.embedding<8>
}

// -----

exp.experiment @objective_supcon_arity {
  exp.network @Table8 "EmbeddingTable" {
  ^bb0(%x: tensor<i64>):
    %y = exp.layer "embedding" "1.embedding" (%x) {k = 17 : i64, dim = 8 : i64} : (tensor<i64>) -> tensor<8xf32>
    exp.yield %y : tensor<8xf32>
  }
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  %pert = exp.column %ds "perturbation" : !exp.labels<17>
  exp.encoder @table "EmbeddingTable" {} network @Table8
  %b = exp.encode @table(%pert) : (!exp.labels<17>) -> !exp.embedding<8>
  // expected-error @+1 {{'supcon' takes 3 inputs, got 2}}
  %l = exp.objective "supcon" "x"(%b, %b) {} : !exp.embedding<8>, !exp.embedding<8>
}

// -----

exp.experiment @objective_supcon_labels {
  exp.network @Table8 "EmbeddingTable" {
  ^bb0(%x: tensor<i64>):
    %y = exp.layer "embedding" "1.embedding" (%x) {k = 17 : i64, dim = 8 : i64} : (tensor<i64>) -> tensor<8xf32>
    exp.yield %y : tensor<8xf32>
  }
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  %pert = exp.column %ds "perturbation" : !exp.labels<17>
  exp.encoder @table "EmbeddingTable" {} network @Table8
  %b = exp.encode @table(%pert) : (!exp.labels<17>) -> !exp.embedding<8>
  // expected-error @+1 {{input 2 of 'supcon' must be a labels column, got '!exp.embedding<8>'}}
  %l = exp.objective "supcon" "x"(%b, %b, %b) {} : !exp.embedding<8>, !exp.embedding<8>, !exp.embedding<8>
}

// -----

exp.experiment @objective_kg_classes {
  exp.network @Table8 "EmbeddingTable" {
  ^bb0(%x: tensor<i64>):
    %y = exp.layer "embedding" "1.embedding" (%x) {k = 17 : i64, dim = 8 : i64} : (tensor<i64>) -> tensor<8xf32>
    exp.yield %y : tensor<8xf32>
  }
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  %pert = exp.column %ds "perturbation" : !exp.labels<17>
  exp.encoder @table "EmbeddingTable" {} network @Table8
  %b = exp.encode @table(%pert) : (!exp.labels<17>) -> !exp.embedding<8>
  exp.encoder @kg "knowledge_graph" {sources = [{kind = "gene_pairs", params = {path = "p.csv"}}]} frozen
  %plate = exp.column %ds "plate" : !exp.labels<6>
  %g = exp.encode @kg(%plate) : (!exp.labels<6>) -> !exp.kgraph<6>
  // expected-error @+1 {{relates 6 classes by a graph, but its labels have 17}}
  %l = exp.objective "kg_laplacian" "x"(%b, %pert, %g) {} : !exp.embedding<8>, !exp.labels<17>, !exp.kgraph<6>
}

// -----

// CWCL's features are per-channel tensors ((sites,) channels, width), not vectors.
exp.experiment @cwcl_features_rank {
  exp.network @Table8 "EmbeddingTable" {
  ^bb0(%x: tensor<i64>):
    %y = exp.layer "embedding" "1.embedding" (%x) {k = 17 : i64, dim = 8 : i64} : (tensor<i64>) -> tensor<8xf32>
    exp.yield %y : tensor<8xf32>
  }
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  %pert = exp.column %ds "perturbation" : !exp.labels<17>
  exp.encoder @table "EmbeddingTable" {} network @Table8
  %b = exp.encode @table(%pert) : (!exp.labels<17>) -> !exp.embedding<8>
  // expected-error @+1 {{input 2 of 'cwcl' must be per-channel features ((sites,) channels, width), got '!exp.embedding<8>'}}
  %l = exp.objective "cwcl" "x"(%b, %b, %b) {} : !exp.embedding<8>, !exp.embedding<8>, !exp.embedding<8>
}

// -----

// A text side gives token ids of its `length`.
exp.experiment @text_length {
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  %pert = exp.column %ds "perturbation" : !exp.labels<17>
  exp.encoder @prompts "text" {template = "{perturbation}", vocab_file = "@data/side/vocab.txt", vocab = 512 : i64, length = 16 : i64} frozen
  // expected-error @+1 {{gives 16 token ids per row, not '!exp.token_ids<8>'}}
  %ids = exp.encode @prompts(%pert) : (!exp.labels<17>) -> !exp.token_ids<8>
}

// -----

exp.experiment @text_vocab {
  // expected-error @+1 {{side information 'text' needs a `vocab_file`}}
  exp.encoder @prompts "text" {template = "{perturbation}", vocab = 512 : i64, length = 16 : i64} frozen
}

// -----

// expected-error @+1 {{token ids need room for [CLS] and [SEP], got length 1}}
func.func private @short() -> !exp.token_ids<1>
