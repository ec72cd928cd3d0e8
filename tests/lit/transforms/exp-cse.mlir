// exp-cse: each use in the source gets its own exp.column and exp.encode from
// IR generation; the pass shares the identical ones, so an embedding the
// objective and two evaluations use is computed by one op (and lowers to one
// evaluation graph). At the step level it shares constants and parameter reads.
// RUN: exp-opt %s --split-input-file --exp-cse | FileCheck %s
// RUN: exp-opt %s --split-input-file --exp-cse=explain --verify-diagnostics -o /dev/null

// CHECK-LABEL: exp.experiment @shared
// CHECK-COUNT-1: exp.column %{{.*}} "image"
// CHECK-NOT: exp.column %{{.*}} "image"
// CHECK: %[[E:.*]] = exp.encode @cells
// CHECK-NOT: exp.encode @cells
// CHECK: exp.evaluate "replicate_map" "a"(%[[E]])
// CHECK: exp.evaluate "replicate_map" "b"(%[[E]])
// expected-remark@+1 {{shared 4 duplicate ops}}
module {
  exp.experiment @shared {
    exp.network @Net "Net" {
    ^bb0(%x: tensor<3x8x8xf32>):
      %p = exp.layer "global_avg_pool" "1.global_avg_pool" (%x) {} : (tensor<3x8x8xf32>) -> tensor<3xf32>
      %y = exp.layer "linear" "2.linear" (%p) {d = 3 : i64, out = 4 : i64} : (tensor<3xf32>) -> tensor<4xf32>
      exp.yield %y : tensor<4xf32>
    }
    %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 3 : i64, holdout_plates = 1 : i64, perturbations = 2 : i64, replicates = 2 : i64, controls = 2 : i64, sites = 1 : i64, channels = 3 : i64, image_size = 8 : i64}
    exp.encoder @cells "Net" {} network @Net
    %c0 = exp.column %ds "image" : !exp.images<3, 8, 8>
    %e0 = exp.encode @cells(%c0) : (!exp.images<3, 8, 8>) -> !exp.embedding<4>
    %loss = exp.contrastive "clip" "align" %e0, %e0 {learnable_temperature = false, max_logit_scale = 100.0 : f64, temperature = 0.1 : f64} : <4>, <4>
    exp.train "main" %loss {batch = 8 : i64, epochs = 1 : i64, optimizer = "adamw", optimizer_params = {lr = 1.0e-3 : f64}, seed = 0 : i64}
    %c1 = exp.column %ds "image" : !exp.images<3, 8, 8>
    %e1 = exp.encode @cells(%c1) : (!exp.images<3, 8, 8>) -> !exp.embedding<4>
    exp.evaluate "replicate_map" "a"(%e1) {diffby = "plate", sameby = "perturbation"} : !exp.embedding<4>
    %c2 = exp.column %ds "image" : !exp.images<3, 8, 8>
    %e2 = exp.encode @cells(%c2) : (!exp.images<3, 8, 8>) -> !exp.embedding<4>
    exp.evaluate "replicate_map" "b"(%e2) {diffby = "plate", sameby = "perturbation"} : !exp.embedding<4>
  }
}

// -----

// Two encoders (two sets of parameters) over one column: one column, two
// encodes. Layers with different names are different parameters: kept.
// CHECK-LABEL: exp.experiment @distinct
// CHECK: exp.layer "linear" "1.linear"
// CHECK: exp.layer "linear" "2.linear"
// CHECK-COUNT-1: exp.column
// CHECK: exp.encode @a
// CHECK: exp.encode @b
// expected-remark@+1 {{shared 1 duplicate ops}}
module {
  exp.experiment @distinct {
    exp.network @Net "Net" {
    ^bb0(%i: tensor<3x8x8xf32>):
      %x = exp.layer "global_avg_pool" "0.global_avg_pool" (%i) {} : (tensor<3x8x8xf32>) -> tensor<3xf32>
      %y = exp.layer "linear" "1.linear" (%x) {d = 3 : i64, out = 3 : i64} : (tensor<3xf32>) -> tensor<3xf32>
      %z = exp.layer "linear" "2.linear" (%x) {d = 3 : i64, out = 3 : i64} : (tensor<3xf32>) -> tensor<3xf32>
      %s = exp.layer "add" "3.add" (%y, %z) {} : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
      exp.yield %s : tensor<3xf32>
    }
    %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 3 : i64, holdout_plates = 1 : i64, perturbations = 2 : i64, replicates = 2 : i64, controls = 2 : i64, sites = 1 : i64, channels = 3 : i64, image_size = 8 : i64}
    exp.encoder @a "Net" {} network @Net
    exp.encoder @b "Net" {} network @Net
    %c0 = exp.column %ds "image" : !exp.images<3, 8, 8>
    %e0 = exp.encode @a(%c0) : (!exp.images<3, 8, 8>) -> !exp.embedding<3>
    %c1 = exp.column %ds "image" : !exp.images<3, 8, 8>
    %e1 = exp.encode @b(%c1) : (!exp.images<3, 8, 8>) -> !exp.embedding<3>
    %loss = exp.contrastive "clip" "align" %e0, %e1 {learnable_temperature = false, max_logit_scale = 100.0 : f64, temperature = 0.1 : f64} : <3>, <3>
    exp.train "main" %loss {batch = 8 : i64, epochs = 1 : i64, optimizer = "adamw", optimizer_params = {lr = 1.0e-3 : f64}, seed = 0 : i64}
  }
}

// -----

// Step level: constants and parameter reads are shared; dropout, which draws
// a new mask each time, is not.
// CHECK-LABEL: func.func @step(
// CHECK-COUNT-1: step.constant
// CHECK-COUNT-1: step.param @w
// CHECK-COUNT-2: step.dropout
// expected-remark@+1 {{shared 2 duplicate ops}}
module {
  step.parameter @w : tensor<6x6xf32> {decay = true, init = "normal", scale = 1.0 : f64}
  func.func @step(%x: tensor<?x6xf32> {step.column = "x"}) -> tensor<?x6xf32> {
    %c0 = step.constant 0.000000e+00 : tensor<f32>
    %c1 = step.constant 0.000000e+00 : tensor<f32>
    %w0 = step.param @w : tensor<6x6xf32>
    %w1 = step.param @w : tensor<6x6xf32>
    %d0 = step.dropout %x {p = 5.000000e-01 : f64} : tensor<?x6xf32>
    %d1 = step.dropout %x {p = 5.000000e-01 : f64} : tensor<?x6xf32>
    %a = step.linear %d0, %w0, %c0 : (tensor<?x6xf32>, tensor<6x6xf32>, tensor<f32>) -> tensor<?x6xf32>
    %b = step.linear %d1, %w1, %c1 : (tensor<?x6xf32>, tensor<6x6xf32>, tensor<f32>) -> tensor<?x6xf32>
    %s = step.add %a, %b : (tensor<?x6xf32>, tensor<?x6xf32>) -> tensor<?x6xf32>
    return %s : tensor<?x6xf32>
  }
}
