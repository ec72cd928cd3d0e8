// exp-lower-to-step: encoders' (inlined) networks are instantiated once per
// graph with parameters named after the encoder and shared, CLIP expands into its ATen-level composition, and evaluations
// get one embedding graph per distinct embedding.
// RUN: exp-opt %s --exp-lower-to-step | FileCheck %s
// Without the pass, the experiment stays at the exp level:
// RUN: exp-opt %s | FileCheck %s --check-prefix=NOPASS

// NOPASS: exp.experiment @demo
// CHECK-NOT: exp.

// CHECK: step.source "screen" "simulated_screen"
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[IMG:.*]]: tensor<?x3x32x32xf32> {step.column = "image"}
// CHECK-SAME: %[[PERT:.*]]: tensor<?xi64> {step.classes = 17 : i64, step.column = "perturbation"}) -> tensor<f32>
// CHECK: %[[W0:.*]] = step.param @cnn.1.conv2d.weight : tensor<16x3x3x3xf32>
// CHECK: step.conv2d %[[IMG]], %[[W0]]
// CHECK-SAME: -> tensor<?x16x32x32xf32>
// CHECK: step.relu
// CHECK: step.max_pool2d {{.*}} -> tensor<?x16x16x16xf32>
// CHECK: step.conv2d {{.*}} -> tensor<?x16x16x16xf32>
// CHECK: step.max_pool2d {{.*}} -> tensor<?x16x8x8xf32>
// CHECK: step.global_avg_pool {{.*}} -> tensor<?x16xf32>
// In the training graph dropout is active:
// CHECK: step.dropout %{{.*}} {p = 1.000000e-01 : f64} : tensor<?x16xf32>
// CHECK: %[[A:.*]] = step.linear {{.*}} -> tensor<?x32xf32>
// CHECK: %[[B:.*]] = step.embedding_lookup {{.*}}, %[[PERT]]
// CHECK: %[[S:.*]] = step.param @align.logit_scale : tensor<f32>
// CHECK: %[[E:.*]] = step.exp %[[S]]
// CHECK: %[[AN:.*]] = step.l2_normalize %[[A]]
// CHECK: %[[BN:.*]] = step.l2_normalize %[[B]]
// CHECK: %[[SIM:.*]] = step.matmul %[[AN]], %[[BN]] {transpose_b = true}
// CHECK: %[[LOG:.*]] = step.mul %[[SIM]], %[[E]]
// CHECK: %[[T:.*]] = step.arange_rows %[[LOG]]
// CHECK: %[[L1:.*]] = step.cross_entropy %[[LOG]], %[[T]]
// CHECK: %[[LT:.*]] = step.transpose %[[LOG]]
// CHECK: %[[L2:.*]] = step.cross_entropy %[[LT]], %[[T]]
// CHECK: step.add %[[L1]], %[[L2]]
// CHECK: return

// The logit scale starts at log(1/0.07) and is clamped to log(100); no weight decay.
// CHECK-DAG: step.parameter @align.logit_scale : tensor<f32> {decay = false, init = "constant", max = 4.60517{{[0-9]*}} : f64, scale = 2.65926{{[0-9]*}} : f64}
// CHECK-DAG: step.parameter @cnn.1.conv2d.bias : tensor<16xf32> {decay = false
// CHECK-DAG: step.parameter @cnn.1.conv2d.weight : tensor<16x3x3x3xf32> {decay = true
// CHECK-DAG: step.parameter @table.1.embedding.table : tensor<17x32xf32> {decay = true, init = "normal", scale = 1.000000e+00 : f64}
// CHECK: step.train_loop @train_step {batch = 32 : i64, epochs = 2 : i64, name = "main"

// Both metrics evaluate %a: one embedding graph serves both.
// CHECK-LABEL: func.func @embed_0(
// CHECK-SAME: tensor<?x3x32x32xf32> {step.column = "image"}) -> tensor<?x32xf32>
// Evaluation graphs run dropout as the identity:
// CHECK-NOT: step.dropout
// CHECK: step.global_avg_pool
// CHECK-NEXT: step.param @cnn.10.linear.weight
// CHECK: step.evaluate "replicate_map" "reps" [@embed_0]
// CHECK-LABEL: func.func @embed_1(
// CHECK-SAME: tensor<?xi64> {step.classes = 17 : i64, step.column = "perturbation"}) -> tensor<?x32xf32>
// CHECK: step.evaluate "recall_at" "retrieval" [@embed_0, @embed_1] {classes = 17 : i64, k = [1, 5]}

exp.experiment @demo {
  exp.network @Cnn "SmallCNN" {
  ^bb0(%x: tensor<3x32x32xf32>):
    %c1 = exp.layer "conv2d" "1.conv2d" (%x) {c = 3 : i64, out = 16 : i64, kernel = 3 : i64, stride = 1 : i64, padding = 1 : i64} : (tensor<3x32x32xf32>) -> tensor<16x32x32xf32>
    %r1 = exp.layer "relu" "2.relu" (%c1) {} : (tensor<16x32x32xf32>) -> tensor<16x32x32xf32>
    %p1 = exp.layer "max_pool2d" "3.max_pool2d" (%r1) {kernel = 2 : i64, stride = 2 : i64, padding = 0 : i64} : (tensor<16x32x32xf32>) -> tensor<16x16x16xf32>
    %c2 = exp.layer "conv2d" "4.conv2d" (%p1) {c = 16 : i64, out = 16 : i64, kernel = 3 : i64, stride = 1 : i64, padding = 1 : i64} : (tensor<16x16x16xf32>) -> tensor<16x16x16xf32>
    %r2 = exp.layer "relu" "5.relu" (%c2) {} : (tensor<16x16x16xf32>) -> tensor<16x16x16xf32>
    %p2 = exp.layer "max_pool2d" "6.max_pool2d" (%r2) {kernel = 2 : i64, stride = 2 : i64, padding = 0 : i64} : (tensor<16x16x16xf32>) -> tensor<16x8x8xf32>
    %g = exp.layer "global_avg_pool" "7.global_avg_pool" (%p2) {} : (tensor<16x8x8xf32>) -> tensor<16xf32>
    %d = exp.layer "dropout" "8.dropout" (%g) {p = 0.1 : f64} : (tensor<16xf32>) -> tensor<16xf32>
    %y = exp.layer "linear" "10.linear" (%d) {d = 16 : i64, out = 32 : i64} : (tensor<16xf32>) -> tensor<32xf32>
    exp.yield %y : tensor<32xf32>
  }
  exp.network @Table "EmbeddingTable" {
  ^bb0(%x: tensor<i64>):
    %y = exp.layer "embedding" "1.embedding" (%x) {k = 17 : i64, dim = 32 : i64} : (tensor<i64>) -> tensor<32xf32>
    exp.yield %y : tensor<32xf32>
  }
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  %img = exp.column %ds "image" : !exp.images<3, 32, 32>
  %pert = exp.column %ds "perturbation" : !exp.labels<17>
  exp.encoder @cnn "SmallCNN" {} network @Cnn
  exp.encoder @table "EmbeddingTable" {} network @Table
  %a = exp.encode @cnn(%img) : (!exp.images<3, 32, 32>) -> !exp.embedding<32>
  %b = exp.encode @table(%pert) : (!exp.labels<17>) -> !exp.embedding<32>
  %l = exp.contrastive "clip" "align" %a, %b {temperature = 0.07, learnable_temperature = true, max_logit_scale = 100.0} : !exp.embedding<32>, !exp.embedding<32>
  exp.train "main" %l {epochs = 2 : i64, batch = 32 : i64, seed = 0 : i64, optimizer = "adamw", optimizer_params = {lr = 1.0e-3}}
  exp.evaluate "replicate_map" "reps" (%a) {sameby = "perturbation", diffby = "plate"} : !exp.embedding<32>
  exp.evaluate "recall_at" "retrieval" (%a, %b) {k = [1, 5]} : !exp.embedding<32>, !exp.embedding<32>
}
