// exp-lower-to-step refuses experiments it cannot turn into a plan.
// RUN: exp-opt %s -split-input-file --exp-lower-to-step -verify-diagnostics

// expected-error @+1 {{needs exactly one exp.train, found 0}}
exp.experiment @no_train {
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
}

// -----

// Calls must be inlined first (exp-inline-networks).
exp.experiment @not_inlined {
  exp.network @Head "Head" {
  ^bb0(%x: tensor<i64>):
    %y = exp.layer "embedding" "1.embedding" (%x) {k = 17 : i64, dim = 8 : i64} : (tensor<i64>) -> tensor<8xf32>
    exp.yield %y : tensor<8xf32>
  }
  exp.network @Outer "Outer" {
  ^bb0(%x: tensor<i64>):
    // expected-error @+1 {{is not inlined; run exp-inline-networks first}}
    %y = exp.call @Head "1.Head" (%x) : (tensor<i64>) -> tensor<8xf32>
    exp.yield %y : tensor<8xf32>
  }
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  %pert = exp.column %ds "perturbation" : !exp.labels<17>
  exp.encoder @t "Outer" {} network @Outer
  %b = exp.encode @t(%pert) : (!exp.labels<17>) -> !exp.embedding<8>
  %l = exp.contrastive "clip" "align" %b, %b {temperature = 0.07, learnable_temperature = true, max_logit_scale = 100.0} : !exp.embedding<8>, !exp.embedding<8>
  exp.train "main" %l {epochs = 1 : i64, batch = 8 : i64, seed = 0 : i64, optimizer = "adamw", optimizer_params = {lr = 1.0e-3}}
}

// -----

// A layer the step level has no kernel for.
exp.experiment @no_kernel {
  exp.network @Net "Net" {
  ^bb0(%x: tensor<i64>):
    %y = exp.layer "embedding" "1.embedding" (%x) {k = 17 : i64, dim = 8 : i64} : (tensor<i64>) -> tensor<8xf32>
    // expected-error @+1 {{layer 'graph_pool' has no step lowering}}
    %z = exp.layer "graph_pool" "2.graph_pool" (%y) {} : (tensor<8xf32>) -> tensor<8xf32>
    exp.yield %z : tensor<8xf32>
  }
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  %pert = exp.column %ds "perturbation" : !exp.labels<17>
  exp.encoder @t "Net" {} network @Net
  %b = exp.encode @t(%pert) : (!exp.labels<17>) -> !exp.embedding<8>
  %l = exp.contrastive "clip" "align" %b, %b {temperature = 0.07, learnable_temperature = true, max_logit_scale = 100.0} : !exp.embedding<8>, !exp.embedding<8>
  exp.train "main" %l {epochs = 1 : i64, batch = 8 : i64, seed = 0 : i64, optimizer = "adamw", optimizer_params = {lr = 1.0e-3}}
}

// -----

// Pretrained encoders need their weights, which no plan carries yet.
exp.experiment @pretrained {
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  %img = exp.column %ds "image" : !exp.images<3, 32, 32>
  exp.encoder @dino "dino_vitb8" {} frozen
  // expected-error @+1 {{pretrained encoder 'dino_vitb8' has no step lowering (it needs its weights loaded)}}
  %a = exp.encode @dino(%img) : (!exp.images<3, 32, 32>) -> !exp.embedding<768>
  %l = exp.contrastive "clip" "align" %a, %a {temperature = 0.07, learnable_temperature = true, max_logit_scale = 100.0} : !exp.embedding<768>, !exp.embedding<768>
  exp.train "main" %l {epochs = 1 : i64, batch = 8 : i64, seed = 0 : i64, optimizer = "adamw", optimizer_params = {lr = 1.0e-3}}
}
