// step-group-elementwise: chains of elementwise ops over one shape become
// step.fusion groups; values used after the group are its results; scalar
// arithmetic, single ops, non-elementwise ops (dropout, detach) and chains a
// use in between would reorder are left alone.
// RUN: exp-opt %s --split-input-file --step-group-elementwise | FileCheck %s
// RUN: exp-opt %s --split-input-file --step-group-elementwise=explain --verify-diagnostics -o /dev/null

// A residual block's relu(x + f(x) * 0.5): the scalar is an input of the group.
// CHECK-LABEL: func.func @residual
// CHECK: %[[C:.*]] = step.constant
// CHECK: %[[G:.*]] = step.fusion(%arg1, %[[C]], %arg0) : (tensor<?x8xf32>, tensor<f32>, tensor<?x8xf32>) -> tensor<?x8xf32> {
// CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<?x8xf32>, %[[S:.*]]: tensor<f32>, %[[X:.*]]: tensor<?x8xf32>):
// CHECK-NEXT: %[[M:.*]] = step.mul %[[A]], %[[S]]
// CHECK-NEXT: %[[P:.*]] = step.add %[[X]], %[[M]]
// CHECK-NEXT: %[[R:.*]] = step.relu %[[P]]
// CHECK-NEXT: step.yield %[[R]] : tensor<?x8xf32>
// CHECK: return %[[G]]
// expected-remark@+1 {{formed 1 elementwise group}}
func.func @residual(%x: tensor<?x8xf32> {step.column = "a"}, %f: tensor<?x8xf32> {step.column = "b"}) -> tensor<?x8xf32> {
  %c = step.constant 0.5 : tensor<f32>
  %m = step.mul %f, %c : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  %s = step.add %x, %m : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %r = step.relu %s : tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}

// -----

// An intermediate used after the group becomes a second result; the ops
// around the chain (linear, layer_norm) stay outside.
// CHECK-LABEL: func.func @two_results
// CHECK: step.linear
// CHECK: %[[G:.*]]:2 = step.fusion
// CHECK: step.gelu
// CHECK: step.tanh
// CHECK: step.yield %{{.*}}, %{{.*}} : tensor<?x4xf32>, tensor<?x4xf32>
// CHECK: step.layer_norm %[[G]]#0
// CHECK: step.concat %[[G]]#1, %[[G]]#0
// expected-remark@+1 {{formed 1 elementwise group}}
func.func @two_results(%x: tensor<?x4xf32> {step.column = "a"}, %w: tensor<4x4xf32> {step.column = "w"},
                       %n: tensor<4xf32> {step.column = "n"}) -> (tensor<?x4xf32>, tensor<?x8xf32>) {
  %b = step.constant 0.0 : tensor<f32>
  %l = step.linear %x, %w, %b : (tensor<?x4xf32>, tensor<4x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %g = step.gelu %l : tensor<?x4xf32>
  %t = step.tanh %g : tensor<?x4xf32>
  %y = step.layer_norm %g, %n, %n {eps = 1.0e-5 : f64} : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %c = step.concat %t, %g : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x8xf32>
  return %y, %c : tensor<?x4xf32>, tensor<?x8xf32>
}

// -----

// Nothing to group: scalar arithmetic (a weighted sum of losses), a single
// op, ops that are not elementwise (dropout draws random numbers; detach stops
// gradients), and a change of shape between two elementwise ops.
// CHECK-LABEL: func.func @untouched
// CHECK-NOT: step.fusion
func.func @untouched(%x: tensor<?x4xf32> {step.column = "a"}, %y: tensor<?x4x1xf32> {step.column = "b"},
                     %l1: tensor<f32> {step.column = "l1"}, %l2: tensor<f32> {step.column = "l2"})
    -> (tensor<f32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>) {
  %c = step.constant 2.0 : tensor<f32>
  %s = step.mul %l1, %c : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %t = step.add %s, %l2 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %r = step.relu %x : tensor<?x4xf32>
  %d = step.dropout %r {p = 0.1 : f64} : tensor<?x4xf32>
  %e = step.exp %d : tensor<?x4xf32>
  %g = step.detach %e : tensor<?x4xf32>
  %h = step.sigmoid %g : tensor<?x4xf32>
  %y2 = step.relu %y : tensor<?x4x1xf32>
  %f = step.reshape %y2 : (tensor<?x4x1xf32>) -> tensor<?x4xf32>
  %k = step.tanh %f : tensor<?x4xf32>
  return %t, %h, %k, %e : tensor<f32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>
}

// -----

// The sigmoid's result is used by a non-elementwise op (linear) that the
// second chain then reads: joining the first group would make the group wait
// for its own result, so the chain after the linear starts a group of its own.
// CHECK-LABEL: func.func @no_cycle
// CHECK: %[[A:.*]] = step.fusion(%arg0)
// CHECK: step.sigmoid
// CHECK: step.tanh
// CHECK: %[[L:.*]] = step.linear %[[A]]
// CHECK: step.fusion(%[[A]], %[[L]])
// CHECK: step.add
// CHECK: step.relu
// expected-remark@+1 {{formed 2 elementwise groups}}
func.func @no_cycle(%x: tensor<?x4xf32> {step.column = "a"}, %w: tensor<4x4xf32> {step.column = "w"}) -> tensor<?x4xf32> {
  %b = step.constant 0.0 : tensor<f32>
  %s = step.sigmoid %x : tensor<?x4xf32>
  %t = step.tanh %s : tensor<?x4xf32>
  %l = step.linear %t, %w, %b : (tensor<?x4xf32>, tensor<4x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %a = step.add %t, %l : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %r = step.relu %a : tensor<?x4xf32>
  return %r : tensor<?x4xf32>
}
