// The generated fusion kernels' math, on the CPU: the same element code the
// GPU kernels get (codegen/FusionKernels, with NvptxBackend's polynomial
// math), built as host loops, JIT-compiled and run against float64
// references of each step op's formula, forward and backward (central
// differences of the reference). The GPU-only part, the thread index and
// bounds check, is pinned by tests/lit/transforms/step-generate-gpu-kernels.mlir.
#include "codegen/FusionKernels.h"
#include "codegen/NvptxBackend.h"
#include "dialects/step/StepDialect.h"

#include "mlir/Pass/Pass.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/TargetSelect.h"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>

using namespace mlir;
namespace step = expc::step;

namespace {

// The float64 meaning of each op, independent of the code generator.
double ref(llvm::StringRef op, double x, double y) {
  if (op == "step.add") return x + y;
  if (op == "step.sub") return x - y;
  if (op == "step.mul") return x * y;
  if (op == "step.exp") return std::exp(x);
  if (op == "step.tanh") return std::tanh(x);
  if (op == "step.sigmoid") return 1 / (1 + std::exp(-x));
  if (op == "step.relu") return x < 0 ? 0 : x;
  if (op == "step.gelu") return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  FAIL("no reference for " << op.str());
  return 0;
}

// The group's outputs at one element, from its inputs' values there.
std::vector<double> refGroup(step::FusionOp f, const std::vector<double> &in) {
  Block &body = f.getBody().front();
  llvm::DenseMap<Value, double> v;
  for (auto [arg, x] : llvm::zip(body.getArguments(), in))
    v[arg] = x;
  for (Operation &op : body.without_terminator())
    v[op.getResult(0)] = ref(op.getName().getStringRef(), v.lookup(op.getOperand(0)),
                             op.getNumOperands() > 1 ? v.lookup(op.getOperand(1)) : 0.0);
  std::vector<double> out;
  for (Value y : body.getTerminator()->getOperands())
    out.push_back(v.lookup(y));
  return out;
}

struct Jit {
  MLIRContext ctx;
  OwningOpRef<ModuleOp> source;
  std::unique_ptr<ExecutionEngine> engine;
  step::FusionOp fusion;

  explicit Jit(const char *ir) {
    DialectRegistry registry;
    registry.insert<step::StepDialect>();
    expc::codegen::registerNvptxBackend(registry);
    ctx.appendDialectRegistry(registry);
    ctx.loadAllAvailableDialects();
    source = parseSourceString<ModuleOp>(ir, &ctx);
    REQUIRE(source);
    source->walk([&](step::FusionOp f) { fusion = f; });
    REQUIRE(fusion);
    REQUIRE(expc::codegen::whyNoKernel(fusion) == "");

    OwningOpRef<ModuleOp> host = ModuleOp::create(UnknownLoc::get(&ctx));
    OpBuilder b(host->getBodyRegion());
    expc::codegen::buildFusionKernels(b, fusion, "k", expc::codegen::KernelTarget::Host);
    REQUIRE(succeeded(expc::codegen::expandMathFunctions(*host)));
    PassManager pm(&ctx);
    pm.addPass(createConvertMathToLLVMPass());
    pm.addPass(createConvertSCFToCFPass());
    pm.addPass(createArithToLLVMConversionPass());
    pm.addPass(createConvertControlFlowToLLVMPass());
    pm.addPass(createConvertFuncToLLVMPass());
    pm.addPass(createReconcileUnrealizedCastsPass());
    REQUIRE(succeeded(pm.run(*host)));
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    auto created = ExecutionEngine::create(*host);
    REQUIRE(static_cast<bool>(created));
    engine = std::move(*created);
  }

  // Calls `name` over pointers to the arrays and n.
  void call(const char *name, std::vector<float *> arrays, int64_t n) {
    std::vector<void *> args;
    for (float *&p : arrays)
      args.push_back(&p);
    args.push_back(&n);
    REQUIRE(!engine->invokePacked(name, args));
  }
};

// Checks the kernels of the (single) fusion in `ir` on n random elements:
// forward against the reference, backward against central differences.
void checkGroup(const char *ir, double lo, double hi, std::vector<float> special = {}) {
  Jit jit(ir);
  step::FusionOp f = jit.fusion;
  const size_t nin = f.getInputs().size(), nout = f.getResults().size();
  std::vector<bool> scalar;
  for (Value v : f.getInputs())
    scalar.push_back(cast<RankedTensorType>(v.getType()).getRank() == 0);
  const int64_t n = 2000 + static_cast<int64_t>(special.size());
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(lo, hi), gu(-1, 1);
  std::vector<std::vector<float>> in(nin, std::vector<float>(n)), out(nout, std::vector<float>(n)),
      gout(nout, std::vector<float>(n)), gin(nin, std::vector<float>(n));
  for (size_t k = 0; k < nin; ++k)
    for (int64_t i = 0; i < n; ++i)
      in[k][i] = i < static_cast<int64_t>(special.size()) ? special[i] : u(rng);
  for (auto &g : gout)
    for (float &x : g)
      x = gu(rng);
  std::vector<float *> ptrs;
  for (auto &v : in) ptrs.push_back(v.data());
  for (auto &v : out) ptrs.push_back(v.data());
  jit.call("k", ptrs, n);
  ptrs.clear();
  for (auto &v : in) ptrs.push_back(v.data());
  for (auto &v : gout) ptrs.push_back(v.data());
  for (auto &v : gin) ptrs.push_back(v.data());
  jit.call("k_grad", ptrs, n);

  double worstF = 0, worstB = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> x(nin);
    for (size_t k = 0; k < nin; ++k)
      x[k] = in[k][scalar[k] ? 0 : i];
    std::vector<double> y = refGroup(f, x);
    for (size_t j = 0; j < nout; ++j) {
      if (std::isnan(y[j])) {
        CHECK(std::isnan(out[j][i]));
        continue;
      }
      double err = std::abs(out[j][i] - y[j]) / (1 + std::abs(y[j]));
      worstF = std::max(worstF, err);
    }
    for (size_t k = 0; k < nin; ++k) {
      const double h = 1e-6 * (1 + std::abs(x[k]));
      std::vector<double> xp = x, xm = x;
      xp[k] += h, xm[k] -= h;
      std::vector<double> yp = refGroup(f, xp), ym = refGroup(f, xm);
      double d = 0;
      for (size_t j = 0; j < nout; ++j)
        d += gout[j][i] * (yp[j] - ym[j]) / (2 * h);
      // relu's kink: the difference straddles 0; LibTorch's rule (0) is checked apart.
      bool kink = std::abs(x[k]) < 2 * h;
      if (std::isfinite(d) && !kink)
        worstB = std::max(worstB, std::abs(gin[k][i] - d) / (1 + std::abs(d)));
    }
  }
  MESSAGE("forward max rel err " << worstF << ", backward " << worstB);
  CHECK(worstF < 2e-6);
  CHECK(worstB < 2e-4);
}

} // namespace

TEST_CASE("generated kernels: every op, two results, match float64 forward and backward") {
  checkGroup(R"(
    func.func @g(%x: tensor<?x4xf32>, %y: tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>) {
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
    })",
             -4, 4);
}

TEST_CASE("generated kernels: wide arguments of the transcendental functions") {
  checkGroup(R"(
    func.func @g(%x: tensor<?xf32>) -> tensor<?xf32> {
      %r = step.fusion(%x) : (tensor<?xf32>) -> tensor<?xf32> {
      ^bb0(%a: tensor<?xf32>):
        %0 = step.gelu %a : tensor<?xf32>
        %1 = step.tanh %a : tensor<?xf32>
        %2 = step.add %0, %1 : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
        %3 = step.sigmoid %a : tensor<?xf32>
        %4 = step.add %2, %3 : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
        step.yield %4 : tensor<?xf32>
      }
      return %r : tensor<?xf32>
    })",
             -30, 30, {0.0f, -0.0f, 1e-30f, -1e-30f, 88.0f, -88.0f});
}

TEST_CASE("generated kernels: a scalar input is broadcast and its gradient is per element") {
  Jit jit(R"(
    func.func @g(%x: tensor<?x8xf32>, %f: tensor<?x8xf32>, %c: tensor<f32>) -> tensor<?x8xf32> {
      %r = step.fusion(%f, %c, %x) : (tensor<?x8xf32>, tensor<f32>, tensor<?x8xf32>) -> tensor<?x8xf32> {
      ^bb0(%a: tensor<?x8xf32>, %s: tensor<f32>, %b: tensor<?x8xf32>):
        %m = step.mul %a, %s : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
        %p = step.add %b, %m : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
        %q = step.relu %p : tensor<?x8xf32>
        step.yield %q : tensor<?x8xf32>
      }
      return %r : tensor<?x8xf32>
    })");
  // relu(b + a s): a = [1, 2, -3, NaN], s = 0.5, b = [0, -1, 1.5, 0].
  std::vector<float> a = {1, 2, -3, NAN}, s = {0.5f}, b = {0, -1, 1.5f, 0}, out(4);
  jit.call("k", {a.data(), s.data(), b.data(), out.data()}, 4);
  CHECK(out[0] == 0.5f);
  CHECK(out[1] == 0.0f); // relu(0) = 0
  CHECK(out[2] == 0.0f); // relu(0), from 1.5 - 1.5
  CHECK(std::isnan(out[3])); // relu keeps NaN, as LibTorch's
  std::vector<float> g = {1, 1, 1, 1}, ga(4), gs(4), gb(4);
  jit.call("k_grad", {a.data(), s.data(), b.data(), g.data(), ga.data(), gs.data(), gb.data()}, 4);
  CHECK(ga[0] == 0.5f);
  CHECK(gs[0] == 1.0f);
  CHECK(gb[0] == 1.0f);
  // At relu's kink the gradient is 0 (LibTorch's threshold_backward).
  CHECK(ga[1] == 0.0f);
  CHECK(gb[2] == 0.0f);
  // The scalar's gradient is written per element; the runtime sums it.
  CHECK(gs[1] == 0.0f);
}
