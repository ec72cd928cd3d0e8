// step-infer-shapes: result dimensions left dynamic are filled in from the
// operands by the ops' shape functions, through fusion groups, graph
// signatures and precomputed features (contradictions: -invalid.mlir).
// RUN: exp-opt %s --split-input-file --step-infer-shapes | FileCheck %s
// RUN: exp-opt %s --split-input-file --step-infer-shapes=explain --verify-diagnostics -o /dev/null

// CHECK-LABEL: func.func @chain
// CHECK-SAME: -> tensor<?x4xf32>
// CHECK: step.conv2d {{.*}} -> tensor<?x6x8x8xf32>
// CHECK: step.relu %{{.*}} : tensor<?x6x8x8xf32>
// CHECK: step.global_avg_pool {{.*}} -> tensor<?x6xf32>
// CHECK: step.linear {{.*}} -> tensor<?x4xf32>
// CHECK: return %{{.*}} : tensor<?x4xf32>
// expected-remark@+1 {{refined 4 result types}}
module {
  func.func @chain(%x: tensor<?x3x8x8xf32> {step.column = "image"}, %w: tensor<6x3x3x3xf32> {step.column = "w"},
                   %b: tensor<6xf32> {step.column = "b"}, %v: tensor<4x6xf32> {step.column = "v"}) -> tensor<?x?xf32> {
    %c = step.conv2d %x, %w, %b {padding = 1 : i64, stride = 1 : i64} : (tensor<?x3x8x8xf32>, tensor<6x3x3x3xf32>, tensor<6xf32>) -> tensor<?x?x?x?xf32>
    %r = step.relu %c : tensor<?x?x?x?xf32>
    %p = step.global_avg_pool %r : (tensor<?x?x?x?xf32>) -> tensor<?x?xf32>
    %z = step.constant 0.0 : tensor<f32>
    %y = step.linear %p, %v, %z : (tensor<?x?xf32>, tensor<4x6xf32>, tensor<f32>) -> tensor<?x?xf32>
    return %y : tensor<?x?xf32>
  }
}

// -----

// A features graph's refined result reaches the graph that reads it, and a
// fusion group's result follows its body.
// CHECK-LABEL: func.func @features
// CHECK-SAME: -> tensor<?x8xf32>
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: %arg0: tensor<?x8xf32> {step.features = @features, step.output = 0 : i64}
// CHECK: step.fusion(%arg0) : (tensor<?x8xf32>) -> tensor<?x8xf32>
// CHECK: step.tanh %{{.*}} : tensor<?x8xf32>
// CHECK: step.matmul {{.*}} -> tensor<?x?xf32>
// expected-remark@+1 {{refined 4 result types}}
module {
  step.parameter @w : tensor<8x3xf32> {decay = true, frozen, init = "uniform", scale = 0.5 : f64}
  func.func @features(%x: tensor<?x3xf32> {step.column = "x"}) -> tensor<?x?xf32> {
    %w = step.param @w : tensor<8x3xf32>
    %z = step.constant 0.0 : tensor<f32>
    %y = step.linear %x, %w, %z : (tensor<?x3xf32>, tensor<8x3xf32>, tensor<f32>) -> tensor<?x?xf32>
    return %y : tensor<?x?xf32>
  }
  step.precompute @features
  func.func @train_step(%f: tensor<?x?xf32> {step.features = @features, step.output = 0 : i64}) -> tensor<f32> {
    %g = step.fusion(%f) : (tensor<?x?xf32>) -> tensor<?x?xf32> {
    ^bb0(%a: tensor<?x?xf32>):
      %t = step.tanh %a : tensor<?x?xf32>
      %s = step.sigmoid %t : tensor<?x?xf32>
      step.yield %s : tensor<?x?xf32>
    }
    %m = step.matmul %g, %g {transpose_b = true} : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
    %t = step.arange_rows %m : (tensor<?x?xf32>) -> tensor<?xi64>
    %l = step.cross_entropy %m, %t : (tensor<?x?xf32>, tensor<?xi64>) -> tensor<f32>
    return %l : tensor<f32>
  }
  step.train_loop @train_step {batch = 8 : i64, epochs = 1 : i64, name = "main", optimizer = "adamw", optimizer_params = {}, seed = 0 : i64}
}
