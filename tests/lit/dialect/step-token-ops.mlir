// The step dialect's token ops (transformers): shapes they infer, and their
// operand checks.
// RUN: exp-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// A ViT's tokens: 6-channel 32x32 images in 8x8 patches -> 16 tokens of width 12,
// then CLS, attention, and the two poolings.
// CHECK-LABEL: func.func @vit
// CHECK: step.patch_embed %{{.*}} {patch = 8 : i64} : (tensor<?x6x32x32xf32>, tensor<12x6x8x8xf32>, tensor<12xf32>) -> tensor<?x16x12xf32>
// CHECK: step.add_position {{.*}} -> tensor<?x16x12xf32>
// CHECK: step.prepend_token {{.*}} -> tensor<?x17x12xf32>
// CHECK: step.attention {{.*}} {heads = 3 : i64} {{.*}} -> tensor<?x17x12xf32>
// CHECK: step.take_token {{.*}} {index = 0 : i64} {{.*}} -> tensor<?x12xf32>
// CHECK: step.mean_tokens {{.*}} {from = 1 : i64} {{.*}} -> tensor<?x12xf32>
func.func @vit(%x: tensor<?x6x32x32xf32>, %w: tensor<12x6x8x8xf32>, %b: tensor<12xf32>,
               %pos: tensor<16x12xf32>, %cls: tensor<12xf32>, %qkv: tensor<36x12xf32>,
               %qkvb: tensor<36xf32>, %o: tensor<12x12xf32>, %ob: tensor<12xf32>)
    -> (tensor<?x12xf32>, tensor<?x12xf32>) {
  %p = step.patch_embed %x, %w, %b {patch = 8 : i64} : (tensor<?x6x32x32xf32>, tensor<12x6x8x8xf32>, tensor<12xf32>) -> tensor<?x16x12xf32>
  %e = step.add_position %p, %pos : (tensor<?x16x12xf32>, tensor<16x12xf32>) -> tensor<?x16x12xf32>
  %t = step.prepend_token %e, %cls : (tensor<?x16x12xf32>, tensor<12xf32>) -> tensor<?x17x12xf32>
  %a = step.attention %t, %qkv, %qkvb, %o, %ob {heads = 3 : i64} : (tensor<?x17x12xf32>, tensor<36x12xf32>, tensor<36xf32>, tensor<12x12xf32>, tensor<12xf32>) -> tensor<?x17x12xf32>
  %c = step.take_token %a {index = 0 : i64} : (tensor<?x17x12xf32>) -> tensor<?x12xf32>
  %m = step.mean_tokens %a {from = 1 : i64} : (tensor<?x17x12xf32>) -> tensor<?x12xf32>
  return %c, %m : tensor<?x12xf32>, tensor<?x12xf32>
}

// -----

func.func @heads(%t: tensor<?x17x12xf32>, %qkv: tensor<36x12xf32>, %qkvb: tensor<36xf32>, %o: tensor<12x12xf32>, %ob: tensor<12xf32>) -> tensor<?x17x12xf32> {
  // expected-error @+2 {{width 12 is not a multiple of 5 heads}}
  // expected-error @+1 {{failed to infer returned types}}
  %a = step.attention %t, %qkv, %qkvb, %o, %ob {heads = 5 : i64} : (tensor<?x17x12xf32>, tensor<36x12xf32>, tensor<36xf32>, tensor<12x12xf32>, tensor<12xf32>) -> tensor<?x17x12xf32>
  return %a : tensor<?x17x12xf32>
}

// -----

func.func @patch(%x: tensor<?x3x32x32xf32>, %w: tensor<12x6x8x8xf32>, %b: tensor<12xf32>) -> tensor<?x16x12xf32> {
  // expected-error @+2 {{weight 'tensor<12x6x8x8xf32>' does not embed 8x8 patches of 3 channels}}
  // expected-error @+1 {{failed to infer returned types}}
  %p = step.patch_embed %x, %w, %b {patch = 8 : i64} : (tensor<?x3x32x32xf32>, tensor<12x6x8x8xf32>, tensor<12xf32>) -> tensor<?x16x12xf32>
  return %p : tensor<?x16x12xf32>
}

// -----

func.func @position(%x: tensor<?x16x12xf32>, %pos: tensor<17x12xf32>) -> tensor<?x16x12xf32> {
  // expected-error @+2 {{position 'tensor<17x12xf32>' does not match sequences of 16 tokens of width 12}}
  // expected-error @+1 {{failed to infer returned types}}
  %e = step.add_position %x, %pos : (tensor<?x16x12xf32>, tensor<17x12xf32>) -> tensor<?x16x12xf32>
  return %e : tensor<?x16x12xf32>
}

// -----

func.func @take(%x: tensor<?x4x12xf32>) -> tensor<?x12xf32> {
  // expected-error @+2 {{token 4 is out of range for 4 tokens}}
  // expected-error @+1 {{failed to infer returned types}}
  %c = step.take_token %x {index = 4 : i64} : (tensor<?x4x12xf32>) -> tensor<?x12xf32>
  return %c : tensor<?x12xf32>
}

// -----

// Gated-attention MIL pooling: bags of 4 instances of 3 channel tokens.
// CHECK-LABEL: func.func @mil
// CHECK: step.gated_attention_pool {{.*}} -> tensor<?x3x12xf32>
func.func @mil(%x: tensor<?x4x3x12xf32>, %v: tensor<8x12xf32>, %vb: tensor<8xf32>, %u: tensor<8x12xf32>, %ub: tensor<8xf32>, %w: tensor<8xf32>) -> tensor<?x3x12xf32> {
  %y = step.gated_attention_pool %x, %v, %vb, %u, %ub, %w : (tensor<?x4x3x12xf32>, tensor<8x12xf32>, tensor<8xf32>, tensor<8x12xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x3x12xf32>
  return %y : tensor<?x3x12xf32>
}

// -----

func.func @mil_width(%x: tensor<?x4x3x12xf32>, %v: tensor<8x10xf32>, %vb: tensor<8xf32>, %u: tensor<8x12xf32>, %ub: tensor<8xf32>, %w: tensor<8xf32>) -> tensor<?x3x12xf32> {
  // expected-error @+2 {{weights 'tensor<8x10xf32>', 'tensor<8x12xf32>' and 'tensor<8xf32>' do not fit width 12}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = step.gated_attention_pool %x, %v, %vb, %u, %ub, %w : (tensor<?x4x3x12xf32>, tensor<8x10xf32>, tensor<8xf32>, tensor<8x12xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x3x12xf32>
  return %y : tensor<?x3x12xf32>
}
