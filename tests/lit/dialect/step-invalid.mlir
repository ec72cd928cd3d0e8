// Verifier errors of the step dialect.
// RUN: exp-opt %s -split-input-file -verify-diagnostics

func.func @conv(%x: tensor<?x3x8x8xf32>, %w: tensor<4x5x3x3xf32>, %b: tensor<4xf32>) -> tensor<?x4x8x8xf32> {
  // expected-error @+2 {{input has 3 channels but the weight takes 5}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = step.conv2d %x, %w, %b {stride = 1 : i64, padding = 1 : i64} : (tensor<?x3x8x8xf32>, tensor<4x5x3x3xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  return %y : tensor<?x4x8x8xf32>
}

// -----

func.func @linear(%x: tensor<?x16xf32>, %w: tensor<8x16xf32>, %b: tensor<8xf32>) -> tensor<?x9xf32> {
  // expected-error @+2 {{inferred type(s) 'tensor<?x8xf32>' are incompatible with return type(s) of operation 'tensor<?x9xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
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
  // expected-error @+2 {{has 8 rows of logits but 7 targets}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = step.cross_entropy %l, %t : (tensor<8x4xf32>, tensor<7xi64>) -> tensor<f32>
  return %y : tensor<f32>
}

// -----
func.func @bad_kind(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>, %s: tensor<f32>) -> tensor<f32> {
  // expected-error @+2 {{unknown kind 'simclr'; expected 'clip' or 'infoloob'}}
  // expected-error @+1 {{failed to infer returned types}}
  %l = step.contrastive_loss "simclr" %a, %b, %s : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<f32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

func.func @widths(%a: tensor<?x8xf32>, %b: tensor<?x4xf32>, %s: tensor<f32>) -> tensor<f32> {
  // expected-error @+2 {{both sides need the same batch and width}}
  // expected-error @+1 {{failed to infer returned types}}
  %l = step.contrastive_loss "clip" %a, %b, %s : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<f32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

func.func @rank(%a: tensor<?x2x8xf32>, %b: tensor<?x8xf32>, %s: tensor<f32>) -> tensor<f32> {
  // expected-error @+2 {{lhs must be a rank-2 tensor}}
  // expected-error @+1 {{failed to infer returned types}}
  %l = step.contrastive_loss "infoloob" %a, %b, %s : (tensor<?x2x8xf32>, tensor<?x8xf32>, tensor<f32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

func.func @per_channel(%x: tensor<?x3x8x8xf32>) -> tensor<?x3x2x8x8xf32> {
  // expected-error @+2 {{inferred type(s) 'tensor<?x3x3x8x8xf32>' are incompatible with return type(s) of operation 'tensor<?x3x2x8x8xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = step.per_channel %x {copies = 3 : i64} : (tensor<?x3x8x8xf32>) -> tensor<?x3x2x8x8xf32>
  return %y : tensor<?x3x2x8x8xf32>
}

// -----

func.func @pool_rank(%x: tensor<?x8x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+2 {{input must be (N, ..., C, H, W), got 'tensor<?x8x8xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = step.global_avg_pool %x : (tensor<?x8x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// Precomputing a graph that reads a trainable parameter would freeze it.
step.parameter @w : tensor<4x6xf32> {decay = true, init = "uniform", scale = 0.3 : f64}
func.func @features(%x: tensor<?x6xf32> {step.column = "x"}) -> tensor<?x4xf32> {
  %w = step.param @w : tensor<4x6xf32>
  %z = step.constant 0.000000e+00 : tensor<f32>
  %y = step.linear %x, %w, %z : (tensor<?x6xf32>, tensor<4x6xf32>, tensor<f32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}
// expected-error @+1 {{graph 'features' reads trainable parameter 'w'; only frozen parameters can be precomputed}}
step.precompute @features

// -----

func.func @features(%x: tensor<?x6xf32> {step.column = "x"}) -> tensor<?x6xf32> {
  %y = step.dropout %x {p = 5.000000e-01 : f64} : tensor<?x6xf32>
  return %y : tensor<?x6xf32>
}
// expected-error @+1 {{graph 'features' draws random numbers (step.dropout)}}
step.precompute @features

// -----

func.func @features(%x: tensor<?x6xf32> {step.column = "x"}) -> tensor<?x6xf32> {
  return %x : tensor<?x6xf32>
}
func.func @step(%f: tensor<?x6xf32> {step.features = @features, step.output = 0 : i64}) -> tensor<f32> {
  %s = step.constant 1.000000e+00 : tensor<f32>
  %l = step.contrastive_loss "clip" %f, %f, %s : (tensor<?x6xf32>, tensor<?x6xf32>, tensor<f32>) -> tensor<f32>
  return %l : tensor<f32>
}
// expected-error @+1 {{graph 'step' reads features of 'features', which no step.precompute computes}}
step.train_loop @step {batch = 8 : i64, epochs = 1 : i64, name = "main", optimizer = "adamw", optimizer_params = {}, seed = 0 : i64}

// -----

func.func @features(%x: tensor<?x6xf32> {step.column = "x"}) -> tensor<?x6xf32> {
  return %x : tensor<?x6xf32>
}
step.precompute @features
func.func @step(%f: tensor<?x4xf32> {step.features = @features, step.output = 0 : i64}) -> tensor<f32> {
  %s = step.constant 1.000000e+00 : tensor<f32>
  %l = step.contrastive_loss "clip" %f, %f, %s : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<f32>) -> tensor<f32>
  return %l : tensor<f32>
}
// expected-error @+1 {{graph 'step' argument 0 has type 'tensor<?x4xf32>' but reads 'tensor<?x6xf32>'}}
step.train_loop @step {batch = 8 : i64, epochs = 1 : i64, name = "main", optimizer = "adamw", optimizer_params = {}, seed = 0 : i64}

// -----

func.func @features(%x: tensor<?x6xf32> {step.column = "x"}) -> tensor<?x6xf32> {
  return %x : tensor<?x6xf32>
}
step.precompute @features
func.func @embed(%f: tensor<?x6xf32> {step.features = @features, step.output = 0 : i64}) -> tensor<?x6xf32> attributes {step.rows = "classes"} {
  return %f : tensor<?x6xf32>
}
// expected-error @+1 {{graph 'embed' argument 0 must read a dataset column (step.column): the graph is not over dataset rows}}
step.evaluate "replicate_map" "r" [@embed] {}

// -----

// expected-error @+1 {{argument 0: step.features must name a graph}}
func.func @bad_attr(%f: tensor<?x6xf32> {step.features = "features"}) {
  return
}

// -----

func.func @fusion_not_elementwise(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %r = step.fusion(%x) : (tensor<?x4xf32>) -> tensor<?x4xf32> {
  ^bb0(%a: tensor<?x4xf32>):
    // expected-error @+1 {{is not elementwise; it cannot be part of a step.fusion group}}
    %d = step.dropout %a {p = 0.5 : f64} : tensor<?x4xf32>
    step.yield %d : tensor<?x4xf32>
  }
  return %r : tensor<?x4xf32>
}

// -----

func.func @fusion_mixed_shapes(%x: tensor<?x4xf32>, %s: tensor<f32>) -> tensor<?x4xf32> {
  %r = step.fusion(%x, %s) : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32> {
  ^bb0(%a: tensor<?x4xf32>, %b: tensor<f32>):
    // expected-error @+1 {{has type 'tensor<f32>', but the group computes 'tensor<?x4xf32>'}}
    %e = step.exp %b : tensor<f32>
    %m = step.mul %a, %e : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
    step.yield %m : tensor<?x4xf32>
  }
  return %r : tensor<?x4xf32>
}

// -----

func.func @fusion_yield_types(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{yields 2 values whose types differ from the results}}
  %r = step.fusion(%x) : (tensor<?x4xf32>) -> tensor<?x4xf32> {
  ^bb0(%a: tensor<?x4xf32>):
    %e = step.exp %a : tensor<?x4xf32>
    step.yield %e, %a : tensor<?x4xf32>, tensor<?x4xf32>
  }
  return %r : tensor<?x4xf32>
}

// -----

func.func @fusion_reads_outside(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  // expected-note @+1 {{required by region isolation constraints}}
  %r = step.fusion() : () -> tensor<?x4xf32> {
  ^bb0:
    // expected-error @+1 {{using value defined outside the region}}
    %e = step.exp %x : tensor<?x4xf32>
    step.yield %e : tensor<?x4xf32>
  }
  return %r : tensor<?x4xf32>
}
