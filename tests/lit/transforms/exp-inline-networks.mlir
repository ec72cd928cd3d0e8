// exp-inline-networks: calls are replaced by the callee's body, bottom-up;
// inlined ops' names are prefixed with the call's; networks only calls reached
// are erased (exp-inline-networks-invalid.mlir: a network that calls itself).
// RUN: exp-opt %s --split-input-file --exp-inline-networks | FileCheck %s

// Outer -> Block (twice) -> Dense: one flat graph, two copies of each layer
// with distinct names (so distinct parameters).
// CHECK-LABEL: exp.experiment @nested
// CHECK-NOT: exp.network @Dense
// CHECK-NOT: exp.network @Block
// CHECK: exp.network @Outer "Outer" {
// CHECK-NEXT: ^bb0(%[[X:.*]]: tensor<8xf32>):
// CHECK-NEXT: %[[A:.*]] = exp.layer "linear" "1.Block.1.Dense.1.linear"(%[[X]])
// CHECK-NEXT: %[[B:.*]] = exp.layer "gelu" "1.Block.1.Dense.2.gelu"(%[[A]])
// CHECK-NEXT: %[[R:.*]] = exp.layer "add" "1.Block.2.add"(%[[X]], %[[B]])
// CHECK-NEXT: %[[C:.*]] = exp.layer "linear" "2.Block.1.Dense.1.linear"(%[[R]])
// CHECK-NEXT: %[[D:.*]] = exp.layer "gelu" "2.Block.1.Dense.2.gelu"(%[[C]])
// CHECK-NEXT: %[[S:.*]] = exp.layer "add" "2.Block.2.add"(%[[R]], %[[D]])
// CHECK-NEXT: exp.yield %[[S]]
// CHECK-NOT: exp.call
exp.experiment @nested {
  exp.network @Dense "Dense" {
  ^bb0(%x: tensor<8xf32>):
    %y = exp.layer "linear" "1.linear" (%x) {d = 8 : i64, out = 8 : i64} : (tensor<8xf32>) -> tensor<8xf32>
    %z = exp.layer "gelu" "2.gelu" (%y) {} : (tensor<8xf32>) -> tensor<8xf32>
    exp.yield %z : tensor<8xf32>
  }
  exp.network @Block "Block" {
  ^bb0(%x: tensor<8xf32>):
    %y = exp.call @Dense "1.Dense" (%x) : (tensor<8xf32>) -> tensor<8xf32>
    %z = exp.layer "add" "2.add" (%x, %y) {} : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
    exp.yield %z : tensor<8xf32>
  }
  exp.network @Outer "Outer" {
  ^bb0(%x: tensor<8xf32>):
    %a = exp.call @Block "1.Block" (%x) : (tensor<8xf32>) -> tensor<8xf32>
    %b = exp.call @Block "2.Block" (%a) : (tensor<8xf32>) -> tensor<8xf32>
    exp.yield %b : tensor<8xf32>
  }
  exp.encoder @e "Outer" {} network @Outer
}

// -----

// An encoder applied inside a network keeps its own symbol (its parameters are
// the encoder's, shared with its other uses); the network that used it is
// still inlined around it.
// CHECK-LABEL: exp.experiment @applies
// CHECK: exp.network @Backbone
// CHECK: exp.network @Wrap "Wrap" {
// CHECK: exp.apply @bb "1.Pair.1.bb"
// CHECK-NOT: exp.network @Pair
exp.experiment @applies {
  exp.network @Backbone "Backbone" {
  ^bb0(%x: tensor<8xf32>):
    %y = exp.layer "linear" "1.linear" (%x) {d = 8 : i64, out = 4 : i64} : (tensor<8xf32>) -> tensor<4xf32>
    exp.yield %y : tensor<4xf32>
  }
  exp.encoder @bb "Backbone" {} network @Backbone
  exp.network @Pair "Pair" {
  ^bb0(%x: tensor<8xf32>):
    %y = exp.apply @bb "1.bb" (%x) : (tensor<8xf32>) -> tensor<4xf32>
    exp.yield %y : tensor<4xf32>
  }
  exp.network @Wrap "Wrap" {
  ^bb0(%x: tensor<8xf32>):
    %y = exp.call @Pair "1.Pair" (%x) : (tensor<8xf32>) -> tensor<4xf32>
    exp.yield %y : tensor<4xf32>
  }
  exp.encoder @w "Wrap" {} network @Wrap
}

