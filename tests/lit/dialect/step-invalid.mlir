// Verifier errors of the step dialect.
// RUN: exp-opt %s -split-input-file -verify-diagnostics

func.func @conv(%x: tensor<?x3x8x8xf32>, %w: tensor<4x5x3x3xf32>, %b: tensor<4xf32>) -> tensor<?x4x8x8xf32> {
  // expected-error @+1 {{input has 3 channels but the weight takes 5}}
  %y = step.conv2d %x, %w, %b {stride = 1 : i64, padding = 1 : i64} : (tensor<?x3x8x8xf32>, tensor<4x5x3x3xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  return %y : tensor<?x4x8x8xf32>
}

// -----

func.func @linear(%x: tensor<?x16xf32>, %w: tensor<8x16xf32>, %b: tensor<8xf32>) -> tensor<?x9xf32> {
  // expected-error @+1 {{result dimension 1 is 9, expected 8}}
  %y = step.linear %x, %w, %b : (tensor<?x16xf32>, tensor<8x16xf32>, tensor<8xf32>) -> tensor<?x9xf32>
  return %y : tensor<?x9xf32>
}

// -----

func.func @param() -> tensor<4xf32> {
  // expected-error @+1 {{'nowhere' does not name a step.parameter}}
  %p = step.param @nowhere : tensor<4xf32>
  return %p : tensor<4xf32>
}

// -----

step.parameter @w : tensor<4xf32> {decay = true, init = "uniform", scale = 0.5 : f64}
func.func @param_type() -> tensor<5xf32> {
  // expected-error @+1 {{does not match parameter type}}
  %p = step.param @w : tensor<5xf32>
  return %p : tensor<5xf32>
}

// -----

func.func @ce(%l: tensor<8x4xf32>, %t: tensor<7xi64>) -> tensor<f32> {
  // expected-error @+1 {{has 8 rows of logits but 7 targets}}
  %y = step.cross_entropy %l, %t : (tensor<8x4xf32>, tensor<7xi64>) -> tensor<f32>
  return %y : tensor<f32>
}

// -----
func.func @bad_kind(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>, %s: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{unknown kind 'simclr'; expected 'clip' or 'infoloob'}}
  %l = step.contrastive_loss "simclr" %a, %b, %s : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<f32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

func.func @widths(%a: tensor<?x8xf32>, %b: tensor<?x4xf32>, %s: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{both sides need the same batch and width}}
  %l = step.contrastive_loss "clip" %a, %b, %s : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<f32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

func.func @rank(%a: tensor<?x2x8xf32>, %b: tensor<?x8xf32>, %s: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{lhs must be a rank-2 tensor}}
  %l = step.contrastive_loss "infoloob" %a, %b, %s : (tensor<?x2x8xf32>, tensor<?x8xf32>, tensor<f32>) -> tensor<f32>
  return %l : tensor<f32>
}
