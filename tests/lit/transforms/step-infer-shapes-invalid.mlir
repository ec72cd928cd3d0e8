// step-infer-shapes: a declared dimension that refinement shows to
// contradict the operands is an error at the op.
// RUN: exp-opt %s --split-input-file --step-infer-shapes --verify-diagnostics

// The concat's declared width agrees with dynamic operands, but not with
// the 16 columns they turn out to have.
func.func @contradiction(%x: tensor<?x3xf32>, %w: tensor<8x3xf32>) -> tensor<?x18xf32> {
  %z = step.constant 0.0 : tensor<f32>
  %y = step.linear %x, %w, %z : (tensor<?x3xf32>, tensor<8x3xf32>, tensor<f32>) -> tensor<?x?xf32>
  // expected-error @+1 {{result type 'tensor<?x18xf32>' contradicts the inferred 'tensor<?x16xf32>'}}
  %c = step.concat %y, %y : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x18xf32>
  return %c : tensor<?x18xf32>
}
