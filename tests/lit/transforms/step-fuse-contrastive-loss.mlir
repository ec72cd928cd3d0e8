// step-fuse-contrastive-loss: the CLIP composition becomes one fused op; a
// composition whose intermediates someone else reads is left alone.
// RUN: exp-opt %s --split-input-file --step-fuse-contrastive-loss | FileCheck %s
// With `explain`, a composition left alone says why:
// RUN: exp-opt %s --split-input-file --step-fuse-contrastive-loss=explain --verify-diagnostics -o /dev/null

// CHECK-LABEL: func.func @clip(
// CHECK-SAME: %[[A:.*]]: tensor<?x8xf32>, %[[B:.*]]: tensor<?x8xf32>, %[[S:.*]]: tensor<f32>)
// CHECK-NEXT: %[[L:.*]] = step.contrastive_loss "clip" %[[A]], %[[B]], %[[S]]
// CHECK-NEXT: return %[[L]]
func.func @clip(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>, %s: tensor<f32>) -> tensor<f32> {
  %an = step.l2_normalize %a : tensor<?x8xf32>
  %bn = step.l2_normalize %b : tensor<?x8xf32>
  %sim = step.matmul %an, %bn {transpose_b = true} : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x?xf32>
  %l = step.mul %sim, %s : (tensor<?x?xf32>, tensor<f32>) -> tensor<?x?xf32>
  %t = step.arange_rows %l : (tensor<?x?xf32>) -> tensor<?xi64>
  %c1 = step.cross_entropy %l, %t : (tensor<?x?xf32>, tensor<?xi64>) -> tensor<f32>
  %lt = step.transpose %l : (tensor<?x?xf32>) -> tensor<?x?xf32>
  %c2 = step.cross_entropy %lt, %t : (tensor<?x?xf32>, tensor<?xi64>) -> tensor<f32>
  %sum = step.add %c1, %c2 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %half = step.constant 5.000000e-01 : tensor<f32>
  %loss = step.mul %sum, %half : (tensor<f32>, tensor<f32>) -> tensor<f32>
  return %loss : tensor<f32>
}

// -----

// The two directions in the other order, with a learned scale exp(s).
// CHECK-LABEL: func.func @swapped(
// CHECK: %[[E:.*]] = step.exp
// CHECK-NEXT: step.contrastive_loss "clip" %{{.*}}, %{{.*}}, %[[E]]
// CHECK-NOT: step.cross_entropy
func.func @swapped(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>, %s: tensor<f32>) -> tensor<f32> {
  %e = step.exp %s : tensor<f32>
  %an = step.l2_normalize %a : tensor<?x8xf32>
  %bn = step.l2_normalize %b : tensor<?x8xf32>
  %sim = step.matmul %an, %bn {transpose_b = true} : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x?xf32>
  %l = step.mul %sim, %e : (tensor<?x?xf32>, tensor<f32>) -> tensor<?x?xf32>
  %t = step.arange_rows %l : (tensor<?x?xf32>) -> tensor<?xi64>
  %lt = step.transpose %l : (tensor<?x?xf32>) -> tensor<?x?xf32>
  %c2 = step.cross_entropy %lt, %t : (tensor<?x?xf32>, tensor<?xi64>) -> tensor<f32>
  %c1 = step.cross_entropy %l, %t : (tensor<?x?xf32>, tensor<?xi64>) -> tensor<f32>
  %sum = step.add %c2, %c1 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %half = step.constant 5.000000e-01 : tensor<f32>
  %loss = step.mul %sum, %half : (tensor<f32>, tensor<f32>) -> tensor<f32>
  return %loss : tensor<f32>
}

// -----

// The logits are also returned: fusing would compute them twice, so the
// composition stays.
// CHECK-LABEL: func.func @logits_escape(
// CHECK-NOT: step.contrastive_loss
// CHECK: step.cross_entropy
func.func @logits_escape(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>, %s: tensor<f32>) -> (tensor<f32>, tensor<?x?xf32>) {
  %an = step.l2_normalize %a : tensor<?x8xf32>
  %bn = step.l2_normalize %b : tensor<?x8xf32>
  %sim = step.matmul %an, %bn {transpose_b = true} : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x?xf32>
  %l = step.mul %sim, %s : (tensor<?x?xf32>, tensor<f32>) -> tensor<?x?xf32>
  %t = step.arange_rows %l : (tensor<?x?xf32>) -> tensor<?xi64>
  %c1 = step.cross_entropy %l, %t : (tensor<?x?xf32>, tensor<?xi64>) -> tensor<f32>
  %lt = step.transpose %l : (tensor<?x?xf32>) -> tensor<?x?xf32>
  %c2 = step.cross_entropy %lt, %t : (tensor<?x?xf32>, tensor<?xi64>) -> tensor<f32>
  %sum = step.add %c1, %c2 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %half = step.constant 5.000000e-01 : tensor<f32>
  %loss = step.mul %sum, %half : (tensor<f32>, tensor<f32>) -> tensor<f32>
  // expected-remark @+1 {{contrastive loss not fused: this op also reads the logits}}
  return %loss, %l : tensor<f32>, tensor<?x?xf32>
}

// -----

// Not the CLIP scaling (0.25, not the mean of the two directions): left alone.
// CHECK-LABEL: func.func @not_half(
// CHECK-NOT: step.contrastive_loss
func.func @not_half(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>, %s: tensor<f32>) -> tensor<f32> {
  %an = step.l2_normalize %a : tensor<?x8xf32>
  %bn = step.l2_normalize %b : tensor<?x8xf32>
  %sim = step.matmul %an, %bn {transpose_b = true} : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x?xf32>
  %l = step.mul %sim, %s : (tensor<?x?xf32>, tensor<f32>) -> tensor<?x?xf32>
  %t = step.arange_rows %l : (tensor<?x?xf32>) -> tensor<?xi64>
  %c1 = step.cross_entropy %l, %t : (tensor<?x?xf32>, tensor<?xi64>) -> tensor<f32>
  %lt = step.transpose %l : (tensor<?x?xf32>) -> tensor<?x?xf32>
  %c2 = step.cross_entropy %lt, %t : (tensor<?x?xf32>, tensor<?xi64>) -> tensor<f32>
  %sum = step.add %c1, %c2 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %q = step.constant 2.500000e-01 : tensor<f32>
  %loss = step.mul %sum, %q : (tensor<f32>, tensor<f32>) -> tensor<f32>
  return %loss : tensor<f32>
}
