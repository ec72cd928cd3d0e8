// Verifier errors of the exp dialect.
// RUN: exp-opt %s -split-input-file -verify-diagnostics

exp.experiment @channels {
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  // expected-error @+1 {{column 'image' has type '!exp.images<3, 32, 32>', not '!exp.images<5, 32, 32>'}}
  %img = exp.column %ds "image" : !exp.images<5, 32, 32>
}

// -----

exp.experiment @encoder_input {
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 5 : i64, image_size = 32 : i64}
  %img = exp.column %ds "image" : !exp.images<5, 32, 32>
  exp.encoder @cnn "small_cnn" {channels = 3 : i64, width = 16 : i64, depth = 2 : i64, dim = 32 : i64}
  // expected-error @+1 {{small_cnn expects 3 channels, got 5}}
  %a = exp.encode @cnn(%img) : (!exp.images<5, 32, 32>) -> !exp.embedding<32>
}

// -----

exp.experiment @widths {
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  %img = exp.column %ds "image" : !exp.images<3, 32, 32>
  %pert = exp.column %ds "perturbation" : !exp.labels<17>
  exp.encoder @cnn "small_cnn" {channels = 3 : i64, width = 16 : i64, depth = 2 : i64, dim = 32 : i64}
  exp.encoder @table "embedding_table" {classes = 17 : i64, dim = 64 : i64}
  %a = exp.encode @cnn(%img) : (!exp.images<3, 32, 32>) -> !exp.embedding<32>
  %b = exp.encode @table(%pert) : (!exp.labels<17>) -> !exp.embedding<64>
  // expected-error @+1 {{pairs embeddings of width 32 and 64}}
  %l = exp.contrastive "clip" "align" %a, %b {temperature = 0.07, learnable_temperature = true, max_logit_scale = 100.0} : !exp.embedding<32>, !exp.embedding<64>
}

// -----

exp.experiment @scale {
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  %pert = exp.column %ds "perturbation" : !exp.labels<17>
  exp.encoder @table "embedding_table" {classes = 17 : i64, dim = 8 : i64}
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
