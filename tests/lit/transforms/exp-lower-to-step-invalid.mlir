// exp-lower-to-step refuses experiments it cannot turn into a plan.
// RUN: exp-opt %s -split-input-file --exp-lower-to-step -verify-diagnostics

// expected-error @+1 {{needs exactly one exp.train, found 0}}
exp.experiment @no_train {
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
}
