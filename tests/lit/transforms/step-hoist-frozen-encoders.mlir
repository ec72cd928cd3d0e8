// step-hoist-frozen-encoders: a frozen encoder over a dataset column leaves the
// training step; a step.precompute computes it once per row and the step reads
// its output. Anything random, trainable or batch-mixing stays.
// RUN: exp-opt %s --split-input-file --step-hoist-frozen-encoders | FileCheck %s
// With `explain`, each hoisted value and the first frozen read that stays say so:
// RUN: exp-opt %s --split-input-file --step-hoist-frozen-encoders=explain --verify-diagnostics -o /dev/null

// CellCLIP's pattern: a frozen backbone per channel, a trainable head, a loss.
// CHECK-LABEL: func.func @features_train_step(
// CHECK-SAME: %[[X:.*]]: tensor<?x3x8x8xf32> {step.column = "image"}) -> tensor<?x12xf32>
// CHECK: step.per_channel %[[X]]
// CHECK: step.conv2d
// CHECK: step.global_avg_pool
// CHECK: step.relu
// CHECK: %[[F:.*]] = step.reshape
// CHECK-NEXT: return %[[F]]
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %{{.*}}: tensor<?xi64> {step.column = "perturbation"}
// CHECK-SAME: %[[C:.*]]: tensor<?x12xf32> {step.features = @features_train_step, step.output = 0 : i64}
// CHECK-NOT: step.conv2d
// CHECK-NOT: @frozen.conv
// CHECK: step.linear %[[C]]
// CHECK: step.contrastive_loss
// CHECK: step.precompute @features_train_step
// CHECK-NEXT: step.train_loop @train_step
module {
  step.parameter @frozen.conv.weight : tensor<4x1x3x3xf32> {decay = true, frozen, init = "uniform", scale = 0.3 : f64}
  step.parameter @frozen.conv.bias : tensor<4xf32> {decay = false, frozen, init = "uniform", scale = 0.3 : f64}
  step.parameter @head.weight : tensor<8x12xf32> {decay = true, init = "uniform", scale = 0.3 : f64}
  step.parameter @head.bias : tensor<8xf32> {decay = false, init = "uniform", scale = 0.3 : f64}
  step.parameter @table : tensor<5x8xf32> {decay = true, init = "normal", scale = 1.0 : f64}
  func.func @train_step(%x: tensor<?x3x8x8xf32> {step.column = "image"}, %p: tensor<?xi64> {step.column = "perturbation"}) -> tensor<f32> {
    %pc = step.per_channel %x {copies = 1 : i64} : (tensor<?x3x8x8xf32>) -> tensor<?x3x1x8x8xf32>
    %w = step.param @frozen.conv.weight : tensor<4x1x3x3xf32>
    %b = step.param @frozen.conv.bias : tensor<4xf32>
    %c = step.conv2d %pc, %w, %b {padding = 1 : i64, stride = 1 : i64} : (tensor<?x3x1x8x8xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<?x3x4x8x8xf32>
    %g = step.global_avg_pool %c : (tensor<?x3x4x8x8xf32>) -> tensor<?x3x4xf32>
    %f = step.relu %g : tensor<?x3x4xf32>
    // expected-remark@+1 {{hoisted out of 'train_step': 7 ops over frozen parameters run once per row; the step reads 'tensor<?x12xf32>' from 'features_train_step'}}
    %flat = step.reshape %f : (tensor<?x3x4xf32>) -> tensor<?x12xf32>
    %hw = step.param @head.weight : tensor<8x12xf32>
    %hb = step.param @head.bias : tensor<8xf32>
    %img = step.linear %flat, %hw, %hb : (tensor<?x12xf32>, tensor<8x12xf32>, tensor<8xf32>) -> tensor<?x8xf32>
    %t = step.param @table : tensor<5x8xf32>
    %txt = step.embedding_lookup %t, %p : (tensor<5x8xf32>, tensor<?xi64>) -> tensor<?x8xf32>
    %s = step.constant 1.000000e+01 : tensor<f32>
    %loss = step.contrastive_loss "clip" %img, %txt, %s : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<f32>) -> tensor<f32>
    return %loss : tensor<f32>
  }
  step.train_loop @train_step {batch = 8 : i64, epochs = 1 : i64, name = "main", optimizer = "adamw", optimizer_params = {lr = 1.0e-3 : f64}, seed = 0 : i64}
}

// -----

// A trainable encoder changes every step: nothing moves.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: {step.column = "image"}
// CHECK: step.conv2d
// CHECK-NOT: step.precompute
module {
  step.parameter @conv.weight : tensor<4x3x3x3xf32> {decay = true, init = "uniform", scale = 0.3 : f64}
  step.parameter @conv.bias : tensor<4xf32> {decay = false, init = "uniform", scale = 0.3 : f64}
  func.func @train_step(%x: tensor<?x3x8x8xf32> {step.column = "image"}) -> tensor<f32> {
    %w = step.param @conv.weight : tensor<4x3x3x3xf32>
    %b = step.param @conv.bias : tensor<4xf32>
    %c = step.conv2d %x, %w, %b {padding = 1 : i64, stride = 1 : i64} : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
    %g = step.global_avg_pool %c : (tensor<?x4x8x8xf32>) -> tensor<?x4xf32>
    %s = step.constant 1.000000e+01 : tensor<f32>
    %loss = step.contrastive_loss "clip" %g, %g, %s : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<f32>) -> tensor<f32>
    return %loss : tensor<f32>
  }
  step.train_loop @train_step {batch = 8 : i64, epochs = 1 : i64, name = "main", optimizer = "adamw", optimizer_params = {lr = 1.0e-3 : f64}, seed = 0 : i64}
}

// -----

// Dropout before a frozen layer draws a new mask every step: the frozen layer
// stays in the step.
// CHECK-LABEL: func.func @train_step(
// CHECK: step.dropout
// CHECK: step.linear
// CHECK-NOT: step.precompute
module {
  step.parameter @frozen.weight : tensor<4x6xf32> {decay = true, frozen, init = "uniform", scale = 0.3 : f64}
  step.parameter @frozen.bias : tensor<4xf32> {decay = false, frozen, init = "uniform", scale = 0.3 : f64}
  func.func @train_step(%x: tensor<?x6xf32> {step.column = "features"}) -> tensor<f32> {
    %d = step.dropout %x {p = 1.000000e-01 : f64} : tensor<?x6xf32>
    %w = step.param @frozen.weight : tensor<4x6xf32>
    %b = step.param @frozen.bias : tensor<4xf32>
    // expected-remark@+1 {{not hoisted: reads a frozen parameter, but its input comes from 'step.dropout', which changes between steps}}
    %y = step.linear %d, %w, %b : (tensor<?x6xf32>, tensor<4x6xf32>, tensor<4xf32>) -> tensor<?x4xf32>
    %s = step.constant 1.000000e+01 : tensor<f32>
    %loss = step.contrastive_loss "clip" %y, %y, %s : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<f32>) -> tensor<f32>
    return %loss : tensor<f32>
  }
  step.train_loop @train_step {batch = 8 : i64, epochs = 1 : i64, name = "main", optimizer = "adamw", optimizer_params = {lr = 1.0e-3 : f64}, seed = 0 : i64}
}

// -----

// The column also feeds a trainable encoder: the step keeps reading it, and
// reads the frozen branch's features besides. Two outputs of one frozen
// encoder become two outputs of the features graph.
// CHECK-LABEL: func.func @features_train_step(
// CHECK-SAME: -> (tensor<?x4xf32>, tensor<?x4xf32>)
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:.*]]: tensor<?x6xf32> {step.column = "features"}
// CHECK-SAME: %[[F0:.*]]: tensor<?x4xf32> {step.features = @features_train_step, step.output = 0 : i64}
// CHECK-SAME: %[[F1:.*]]: tensor<?x4xf32> {step.features = @features_train_step, step.output = 1 : i64}
// CHECK: step.linear %[[X]]
// CHECK: step.add %[[F0]], %{{.*}}
// CHECK: step.mul %[[F1]], %{{.*}}
module {
  step.parameter @frozen.weight : tensor<4x6xf32> {decay = true, frozen, init = "uniform", scale = 0.3 : f64}
  step.parameter @frozen.bias : tensor<4xf32> {decay = false, frozen, init = "uniform", scale = 0.3 : f64}
  step.parameter @mlp.weight : tensor<4x6xf32> {decay = true, init = "uniform", scale = 0.3 : f64}
  step.parameter @mlp.bias : tensor<4xf32> {decay = false, init = "uniform", scale = 0.3 : f64}
  func.func @train_step(%x: tensor<?x6xf32> {step.column = "features"}) -> tensor<f32> {
    %w = step.param @frozen.weight : tensor<4x6xf32>
    %b = step.param @frozen.bias : tensor<4xf32>
    // expected-remark@+1 {{hoisted out of 'train_step'}}
    %y = step.linear %x, %w, %b : (tensor<?x6xf32>, tensor<4x6xf32>, tensor<4xf32>) -> tensor<?x4xf32>
    // expected-remark@+1 {{hoisted out of 'train_step'}}
    %r = step.relu %y : tensor<?x4xf32>
    %mw = step.param @mlp.weight : tensor<4x6xf32>
    %mb = step.param @mlp.bias : tensor<4xf32>
    %m = step.linear %x, %mw, %mb : (tensor<?x6xf32>, tensor<4x6xf32>, tensor<4xf32>) -> tensor<?x4xf32>
    %sum = step.add %y, %m : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
    %prod = step.mul %r, %m : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
    %s = step.constant 1.000000e+01 : tensor<f32>
    %loss = step.contrastive_loss "clip" %sum, %prod, %s : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<f32>) -> tensor<f32>
    return %loss : tensor<f32>
  }
  step.train_loop @train_step {batch = 8 : i64, epochs = 1 : i64, name = "main", optimizer = "adamw", optimizer_params = {lr = 1.0e-3 : f64}, seed = 0 : i64}
}

// -----

// A frozen parameter read by an op that mixes rows (here a similarity with a
// fixed prototype matrix) is not a per-row value.
// CHECK-LABEL: func.func @train_step(
// CHECK: step.matmul
// CHECK-NOT: step.precompute
module {
  step.parameter @prototypes : tensor<5x6xf32> {decay = true, frozen, init = "normal", scale = 1.0 : f64}
  func.func @train_step(%x: tensor<?x6xf32> {step.column = "features"}) -> tensor<f32> {
    %p = step.param @prototypes : tensor<5x6xf32>
    // expected-remark@+1 {{not hoisted: reads a frozen parameter, but mixes the rows of a batch}}
    %sim = step.matmul %x, %p {transpose_b = true} : (tensor<?x6xf32>, tensor<5x6xf32>) -> tensor<?x5xf32>
    %s = step.constant 1.000000e+01 : tensor<f32>
    %loss = step.contrastive_loss "clip" %sim, %sim, %s : (tensor<?x5xf32>, tensor<?x5xf32>, tensor<f32>) -> tensor<f32>
    return %loss : tensor<f32>
  }
  step.train_loop @train_step {batch = 8 : i64, epochs = 1 : i64, name = "main", optimizer = "adamw", optimizer_params = {lr = 1.0e-3 : f64}, seed = 0 : i64}
}

// -----

// An evaluation graph applying the same frozen encoder shares the training
// step's features graph: one precompute, read by both. recall_at's
// candidates run over the label set, not dataset rows: left alone.
// CHECK-LABEL: func.func @features_train_step(
// CHECK-NOT: func.func @features_embed
// CHECK: step.precompute @features_train_step
// CHECK-NOT: step.precompute
// CHECK: step.train_loop
// CHECK-LABEL: func.func @embed_0(
// CHECK-SAME: {step.features = @features_train_step, step.output = 0 : i64}
// CHECK-LABEL: func.func @embed_1(
// CHECK-SAME: {step.column = "perturbation"}
// CHECK: step.embedding_lookup
module {
  step.parameter @frozen.weight : tensor<4x6xf32> {decay = true, frozen, init = "uniform", scale = 0.3 : f64}
  step.parameter @frozen.table : tensor<3x4xf32> {decay = true, frozen, init = "normal", scale = 1.0 : f64}
  step.parameter @head.weight : tensor<4x4xf32> {decay = true, init = "uniform", scale = 0.3 : f64}
  func.func @train_step(%x: tensor<?x6xf32> {step.column = "features"}) -> tensor<f32> {
    %w = step.param @frozen.weight : tensor<4x6xf32>
    %z = step.constant 0.000000e+00 : tensor<f32>
    // expected-remark@+1 {{hoisted out of 'train_step'}}
    %y = step.linear %x, %w, %z : (tensor<?x6xf32>, tensor<4x6xf32>, tensor<f32>) -> tensor<?x4xf32>
    %h = step.param @head.weight : tensor<4x4xf32>
    %o = step.linear %y, %h, %z : (tensor<?x4xf32>, tensor<4x4xf32>, tensor<f32>) -> tensor<?x4xf32>
    %s = step.constant 1.000000e+01 : tensor<f32>
    %loss = step.contrastive_loss "clip" %o, %o, %s : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<f32>) -> tensor<f32>
    return %loss : tensor<f32>
  }
  step.train_loop @train_step {batch = 8 : i64, epochs = 1 : i64, name = "main", optimizer = "adamw", optimizer_params = {lr = 1.0e-3 : f64}, seed = 0 : i64}
  func.func @embed_0(%x: tensor<?x6xf32> {step.column = "features"}) -> tensor<?x4xf32> {
    %w = step.param @frozen.weight : tensor<4x6xf32>
    %z = step.constant 0.000000e+00 : tensor<f32>
    // expected-remark@+1 {{hoisted out of 'embed_0': 3 ops over frozen parameters run once per row; the step reads 'tensor<?x4xf32>' from 'features_train_step'}}
    %y = step.linear %x, %w, %z : (tensor<?x6xf32>, tensor<4x6xf32>, tensor<f32>) -> tensor<?x4xf32>
    %h = step.param @head.weight : tensor<4x4xf32>
    %o = step.linear %y, %h, %z : (tensor<?x4xf32>, tensor<4x4xf32>, tensor<f32>) -> tensor<?x4xf32>
    return %o : tensor<?x4xf32>
  }
  func.func @embed_1(%p: tensor<?xi64> {step.column = "perturbation"}) -> tensor<?x4xf32> attributes {step.rows = "classes"} {
    %t = step.param @frozen.table : tensor<3x4xf32>
    %e = step.embedding_lookup %t, %p : (tensor<3x4xf32>, tensor<?xi64>) -> tensor<?x4xf32>
    %h = step.param @head.weight : tensor<4x4xf32>
    %z = step.constant 0.000000e+00 : tensor<f32>
    %o = step.linear %e, %h, %z : (tensor<?x4xf32>, tensor<4x4xf32>, tensor<f32>) -> tensor<?x4xf32>
    return %o : tensor<?x4xf32>
  }
  step.evaluate "recall_at" "retrieval" [@embed_0, @embed_1] {classes = 3 : i64, k = [1]}
}
