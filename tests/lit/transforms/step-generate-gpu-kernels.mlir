// step-generate-gpu-kernels: each step.fusion gets a kernel pair (NAME,
// NAME_grad) in one PTX module on the module's `step.gpu`; groups with the
// same ops over the same kinds of inputs share a pair; a scalar input is
// read at [0]; the backward recomputes the forward and writes every input's
// gradient per element. tests/lit/codegen/ptxas.test assembles the PTX.
// RUN: exp-opt %s --step-generate-gpu-kernels="keep-kernels=true" | FileCheck %s
// RUN: exp-opt %s --step-generate-gpu-kernels=explain --verify-diagnostics -o /dev/null
// RUN: exp-opt %s --step-generate-gpu-kernels="arch=sm_90" | FileCheck %s --check-prefix=PTX
// RUN: not exp-opt %s --step-generate-gpu-kernels="arch=sm_60" -o /dev/null 2>&1 | FileCheck %s --check-prefix=ARCH

// ARCH: error: GPU architecture `sm_60` is not one of sm_75, sm_80, sm_86, sm_89, sm_90

// CHECK-LABEL: module attributes {step.gpu = {arch = "sm_80", block = 256 : i64, ptx = "{{.*}}.target sm_80{{.*}}.visible .entry fusion_0({{.*}}.visible .entry fusion_0_grad({{.*}}.visible .entry fusion_1({{.*}}.visible .entry fusion_1_grad(
// PTX: step.gpu = {arch = "sm_90", block = 256 : i64, ptx = "{{.*}}.version 7.8{{.*}}.target sm_90
// PTX-NOT: .extern
// PTX-NOT: call

// expected-remark@+1 {{2 kernel pairs for 3 of 3 groups}}
module {
  // CHECK-LABEL: func.func @residual
  // CHECK: step.fusion(%arg1, %{{.*}}, %arg0) {step.kernel = "fusion_0"}
  // CHECK: step.fusion(%{{.*}}, %{{.*}}, %arg0) {step.kernel = "fusion_0"}
  func.func @residual(%x: tensor<?x8xf32> {step.column = "a"}, %f: tensor<?x8xf32> {step.column = "b"}) -> tensor<?x8xf32> {
    %c = step.constant 0.5 : tensor<f32>
    %r = step.fusion(%f, %c, %x) : (tensor<?x8xf32>, tensor<f32>, tensor<?x8xf32>) -> tensor<?x8xf32> {
    ^bb0(%a: tensor<?x8xf32>, %s: tensor<f32>, %b: tensor<?x8xf32>):
      %m = step.mul %a, %s : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
      %p = step.add %b, %m : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
      %q = step.relu %p : tensor<?x8xf32>
      step.yield %q : tensor<?x8xf32>
    }
    // The same group again, over other values: it shares fusion_0.
    %r2 = step.fusion(%r, %c, %x) : (tensor<?x8xf32>, tensor<f32>, tensor<?x8xf32>) -> tensor<?x8xf32> {
    ^bb0(%a: tensor<?x8xf32>, %s: tensor<f32>, %b: tensor<?x8xf32>):
      %m = step.mul %a, %s : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
      %p = step.add %b, %m : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
      %q = step.relu %p : tensor<?x8xf32>
      step.yield %q : tensor<?x8xf32>
    }
    return %r2 : tensor<?x8xf32>
  }

  // Every op with a kernel lowering, and two results.
  // CHECK-LABEL: func.func @every_op
  // CHECK: step.fusion(%arg0, %arg1) {step.kernel = "fusion_1"}
  func.func @every_op(%x: tensor<?x4xf32> {step.column = "a"}, %y: tensor<?x4xf32> {step.column = "b"}) -> (tensor<?x4xf32>, tensor<?x4xf32>) {
    %r:2 = step.fusion(%x, %y) : (tensor<?x4xf32>, tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>) {
    ^bb0(%a: tensor<?x4xf32>, %b: tensor<?x4xf32>):
      %0 = step.gelu %a : tensor<?x4xf32>
      %1 = step.tanh %0 : tensor<?x4xf32>
      %2 = step.sigmoid %b : tensor<?x4xf32>
      %3 = step.exp %2 : tensor<?x4xf32>
      %4 = step.sub %1, %3 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
      %5 = step.mul %4, %a : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
      step.yield %5, %1 : tensor<?x4xf32>, tensor<?x4xf32>
    }
    return %r#0, %r#1 : tensor<?x4xf32>, tensor<?x4xf32>
  }
}

// The kernels before lowering: one element per thread, bounds-checked.
// CHECK: gpu.module @exp_kernels
// CHECK: gpu.func @fusion_0(%[[A:.*]]: !llvm.ptr, %[[S:.*]]: !llvm.ptr, %[[B:.*]]: !llvm.ptr, %[[O:.*]]: !llvm.ptr, %[[N:.*]]: i64) kernel
// CHECK: %[[BID:.*]] = gpu.block_id x
// CHECK: %[[BDIM:.*]] = gpu.block_dim x
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: %[[I:.*]] = arith.index_cast
// CHECK: %[[IN:.*]] = arith.cmpi ult, %[[I]], %[[N]] : i64
// CHECK: scf.if %[[IN]]
// CHECK: %[[ZERO:.*]] = arith.constant 0 : i64
// CHECK: llvm.getelementptr %[[A]][%[[I]]]
// CHECK: llvm.getelementptr %[[S]][%[[ZERO]]]
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: arith.cmpf olt
// CHECK: arith.select
// CHECK: llvm.store %{{.*}}, %{{.*}} : f32, !llvm.ptr
// CHECK: gpu.func @fusion_0_grad(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: i64) kernel
// relu's gradient passes where its result is > 0.
// CHECK: arith.cmpf ogt
// CHECK: gpu.func @fusion_1(
// CHECK: math.erf
// CHECK: math.tanh
// CHECK: math.exp
// CHECK: gpu.func @fusion_1_grad(
