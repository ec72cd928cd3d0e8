// exp-lower-to-step: encoders are instantiated once per graph with shared
// parameters, CLIP expands into its ATen-level composition, and evaluations
// get one embedding graph per distinct embedding.
// RUN: exp-opt %s --exp-lower-to-step | FileCheck %s
// Without the pass, the experiment stays at the exp level:
// RUN: exp-opt %s | FileCheck %s --check-prefix=NOPASS

// NOPASS: exp.experiment @demo
// CHECK-NOT: exp.

// CHECK: step.source "screen" "simulated_screen"
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[IMG:.*]]: tensor<?x3x32x32xf32> {step.column = "image"}
// CHECK-SAME: %[[PERT:.*]]: tensor<?xi64> {step.column = "perturbation"}) -> tensor<f32>
// CHECK: %[[W0:.*]] = step.param @cnn.conv0.weight : tensor<16x3x3x3xf32>
// CHECK: step.conv2d %[[IMG]], %[[W0]]
// CHECK-SAME: -> tensor<?x16x32x32xf32>
// CHECK: step.relu
// CHECK: step.max_pool2d {{.*}} -> tensor<?x16x16x16xf32>
// CHECK: step.conv2d {{.*}} -> tensor<?x16x16x16xf32>
// CHECK: step.max_pool2d {{.*}} -> tensor<?x16x8x8xf32>
// CHECK: step.global_avg_pool {{.*}} -> tensor<?x16xf32>
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
// CHECK-DAG: step.parameter @cnn.conv0.bias : tensor<16xf32> {decay = false
// CHECK-DAG: step.parameter @cnn.conv0.weight : tensor<16x3x3x3xf32> {decay = true
// CHECK: step.train_loop @train_step {batch = 32 : i64, epochs = 2 : i64, name = "main"

// Both metrics evaluate %a: one embedding graph serves both.
// CHECK-LABEL: func.func @embed_0(
// CHECK-SAME: tensor<?x3x32x32xf32> {step.column = "image"}) -> tensor<?x32xf32>
// CHECK: step.evaluate "replicate_map" "reps" [@embed_0]
// CHECK-LABEL: func.func @embed_1(
// CHECK-SAME: tensor<?xi64> {step.column = "perturbation"}) -> tensor<?x32xf32>
// CHECK: step.evaluate "recall_at" "retrieval" [@embed_0, @embed_1] {classes = 17 : i64, k = [1, 5]}

exp.experiment @demo {
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  %img = exp.column %ds "image" : !exp.images<3, 32, 32>
  %pert = exp.column %ds "perturbation" : !exp.labels<17>
  exp.encoder @cnn "small_cnn" {channels = 3 : i64, width = 16 : i64, depth = 2 : i64, dim = 32 : i64}
  exp.encoder @table "embedding_table" {classes = 17 : i64, dim = 32 : i64}
  %a = exp.encode @cnn(%img) : (!exp.images<3, 32, 32>) -> !exp.embedding<32>
  %b = exp.encode @table(%pert) : (!exp.labels<17>) -> !exp.embedding<32>
  %l = exp.contrastive "clip" "align" %a, %b {temperature = 0.07, learnable_temperature = true, max_logit_scale = 100.0} : !exp.embedding<32>, !exp.embedding<32>
  exp.train "main" %l {epochs = 2 : i64, batch = 32 : i64, seed = 0 : i64, optimizer = "adamw", optimizer_params = {lr = 1.0e-3}}
  exp.evaluate "replicate_map" "reps" (%a) {sameby = "perturbation", diffby = "plate"} : !exp.embedding<32>
  exp.evaluate "recall_at" "retrieval" (%a, %b) {k = [1, 5]} : !exp.embedding<32>, !exp.embedding<32>
}
