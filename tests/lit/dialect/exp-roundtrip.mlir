// Print/parse round trip of the exp dialect: printing, parsing the print and
// printing again gives the same text.
// RUN: exp-opt %s | exp-opt | FileCheck %s

// CHECK-LABEL: exp.experiment @demo
exp.experiment @demo {
  // CHECK: exp.network @Cnn_0 "SmallCNN" {
  // CHECK-NEXT: ^bb0(%[[X:.*]]: tensor<3x32x32xf32>):
  // CHECK-NEXT: %[[C:.*]] = exp.layer "conv2d" "1.conv2d"(%[[X]]) {c = 3 : i64, kernel = 3 : i64, out = 8 : i64, padding = 1 : i64, stride = 1 : i64} : (tensor<3x32x32xf32>) -> tensor<8x32x32xf32>
  // CHECK: %[[H:.*]] = exp.call @Head_1 "3.Head"(%{{.*}}) : (tensor<8xf32>) -> tensor<32xf32>
  // CHECK-NEXT: exp.yield %[[H]] : tensor<32xf32>
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
  // CHECK: %[[DS:.*]] = exp.dataset "screen" "simulated_screen"
  %ds = exp.dataset "screen" "simulated_screen" {seed = 0 : i64, plates = 6 : i64, holdout_plates = 2 : i64, perturbations = 16 : i64, replicates = 2 : i64, controls = 4 : i64, sites = 2 : i64, channels = 3 : i64, image_size = 32 : i64}
  // CHECK: %[[IMG:.*]] = exp.column %[[DS]] "image" : !exp.images<3, 32, 32>
  %img = exp.column %ds "image" : !exp.images<3, 32, 32>
  // CHECK: exp.column %[[DS]] "perturbation" : !exp.labels<17>
  %pert = exp.column %ds "perturbation" : !exp.labels<17>
  // CHECK: exp.encoder @cnn "SmallCNN" {dim = 32 : i64} network @Cnn_0
  exp.encoder @cnn "SmallCNN" {dim = 32 : i64} network @Cnn_0
  // CHECK: exp.encoder @table "EmbeddingTable" {} network @Table_2 frozen
  exp.encoder @table "EmbeddingTable" {} network @Table_2 frozen
  // CHECK: %[[A:.*]] = exp.encode @cnn(%[[IMG]]) : (!exp.images<3, 32, 32>) -> !exp.embedding<32>
  %a = exp.encode @cnn(%img) : (!exp.images<3, 32, 32>) -> !exp.embedding<32>
  %b = exp.encode @table(%pert) : (!exp.labels<17>) -> !exp.embedding<32>
  // CHECK: %[[L:.*]] = exp.contrastive "clip" "align" %[[A]], %{{.*}} {{.*}}temperature = 7.000000e-02
  %l = exp.contrastive "clip" "align" %a, %b {temperature = 0.07, learnable_temperature = true, max_logit_scale = 100.0} : !exp.embedding<32>, !exp.embedding<32>
  // CHECK: exp.weighted_sum %[[L]], %[[L]] [1.000000e+00, 5.000000e-01]
  %w = exp.weighted_sum %l, %l [1.0, 0.5]
  // CHECK: exp.train "main" %{{.*}} {batch = 32 : i64, epochs = 2 : i64
  exp.train "main" %w {epochs = 2 : i64, batch = 32 : i64, seed = 0 : i64, optimizer = "adamw", optimizer_params = {lr = 1.0e-3}}
  // CHECK: exp.evaluate "replicate_map" "reps"(%[[A]]) {diffby = "plate", sameby = "perturbation"} : !exp.embedding<32>
  exp.evaluate "replicate_map" "reps" (%a) {sameby = "perturbation", diffby = "plate"} : !exp.embedding<32>
  // CHECK: exp.evaluate "recall_at" "retrieval"(%[[A]], %{{.*}}) {k = [1, 5]}
  exp.evaluate "recall_at" "retrieval" (%a, %b) {k = [1, 5]} : !exp.embedding<32>, !exp.embedding<32>
}
