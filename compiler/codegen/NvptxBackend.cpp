//===- NvptxBackend.cpp - gpu.module to PTX --------------------------------===//
//
// The lowering is upstream MLIR's: math functions expanded into polynomials
// (Math/Transforms), scf to cf, gpu-to-nvvm, math to LLVM for what it
// leaves (fma), the few libdevice functions the
// polynomials call defined in place (defineLibdeviceSubset), then
// translation to LLVM IR and LLVM's NVPTX backend at -O3. We drive the NVPTX
// target machine ourselves instead of `gpu-module-to-binary`, whose
// serializer insists on a CUDA toolkit's libdevice even when nothing calls it.
//
//===----------------------------------------------------------------------===//

#include "codegen/NvptxBackend.h"

#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

#include <algorithm>
#include <functional>
#include <mutex>

extern "C" {
void LLVMInitializeNVPTXTargetInfo();
void LLVMInitializeNVPTXTarget();
void LLVMInitializeNVPTXTargetMC();
void LLVMInitializeNVPTXAsmPrinter();
}

using namespace mlir;

namespace expc::codegen {

namespace {
constexpr const char *kTriple = "nvptx64-nvidia-cuda";

FailureOr<std::string> emitPtx(llvm::Module &module, StringRef arch, Location loc) {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
  });
  std::string error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(kTriple, error);
  if (!target)
    return emitError(loc) << "the NVPTX backend is not available in this LLVM: " << error;
  std::string features = std::string("+ptx") + kPtxVersion;
  features.erase(std::remove(features.begin(), features.end(), '.'), features.end());
  std::unique_ptr<llvm::TargetMachine> machine(
      target->createTargetMachine(kTriple, arch, features, {}, std::nullopt));
  module.setTargetTriple(kTriple);
  module.setDataLayout(machine->createDataLayout());
  if (llvm::Error e = makeOptimizingTransformer(3, 0, machine.get())(&module))
    return emitError(loc) << "optimising the kernels failed: " << llvm::toString(std::move(e));
  llvm::SmallString<0> ptx;
  llvm::raw_svector_ostream os(ptx);
  llvm::legacy::PassManager codegen;
  if (machine->addPassesToEmitFile(codegen, os, nullptr, llvm::CodeGenFileType::AssemblyFile))
    return emitError(loc) << "the NVPTX backend cannot emit PTX for " << arch;
  codegen.run(module);
  return std::string(ptx.str());
}
// convert-gpu-to-nvvm turns the math ops left by the approximations (absf,
// floor, fma) into calls of libdevice's __nv_* functions. Each of those is
// one LLVM intrinsic the NVPTX backend selects itself, so the kernels define
// them (internal, inlined at -O3) instead of linking libdevice. Anything
// else would need libdevice and is an error.
LogicalResult defineLibdeviceSubset(gpu::GPUModuleOp kernels) {
  OpBuilder b(kernels.getContext());
  for (auto fn : kernels.getOps<LLVM::LLVMFuncOp>()) {
    if (!fn.isExternal() || !fn.getName().starts_with("__nv_"))
      continue;
    Location loc = fn.getLoc();
    Block *entry = fn.addEntryBlock(b);
    b.setInsertionPointToStart(entry);
    auto a = entry->getArguments();
    Value r = llvm::StringSwitch<std::function<Value()>>(fn.getName())
                  .Case("__nv_fabsf", [&] { return b.create<LLVM::FAbsOp>(loc, a[0]).getResult(); })
                  .Case("__nv_floorf", [&] { return b.create<LLVM::FFloorOp>(loc, a[0]).getResult(); })
                  .Case("__nv_ceilf", [&] { return b.create<LLVM::FCeilOp>(loc, a[0]).getResult(); })
                  .Case("__nv_sqrtf", [&] { return b.create<LLVM::SqrtOp>(loc, a[0]).getResult(); })
                  .Case("__nv_copysignf",
                        [&] { return b.create<LLVM::CopySignOp>(loc, a[0], a[1]).getResult(); })
                  .Case("__nv_fmaf",
                        [&] { return b.create<LLVM::FMAOp>(loc, a[0], a[1], a[2]).getResult(); })
                  .Default([] { return Value(); })();
    if (!r)
      return emitError(loc) << "the kernels call `" << fn.getName()
                            << "`, which would need CUDA's libdevice";
    b.create<LLVM::ReturnOp>(loc, r);
    fn.setLinkage(LLVM::Linkage::Internal);
  }
  return success();
}

} // namespace

bool isSupportedGpuArch(StringRef arch) {
  return llvm::StringSwitch<bool>(arch)
      .Cases("sm_75", "sm_80", "sm_86", "sm_89", "sm_90", true)
      .Default(false);
}

void registerNvptxBackend(DialectRegistry &registry) {
  registry.insert<arith::ArithDialect, cf::ControlFlowDialect, func::FuncDialect,
                  gpu::GPUDialect, LLVM::LLVMDialect, NVVM::NVVMDialect, math::MathDialect,
                  scf::SCFDialect, vector::VectorDialect>();
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
}

LogicalResult expandMathFunctions(Operation *root) {
  RewritePatternSet approximations(root->getContext());
  populateMathPolynomialApproximationPatterns(approximations);
  if (failed(applyPatternsAndFoldGreedily(root, std::move(approximations))))
    return root->emitError() << "expanding math functions in the kernels did not converge";
  return success();
}

FailureOr<std::string> compileToPtx(gpu::GPUModuleOp kernels, StringRef arch) {
  MLIRContext *ctx = kernels.getContext();
  Location loc = kernels.getLoc();
  if (failed(expandMathFunctions(kernels)))
    return failure();

  PassManager pm(ctx, gpu::GPUModuleOp::getOperationName());
  pm.addPass(createConvertSCFToCFPass());
  pm.addPass(createConvertGpuOpsToNVVMOps());
  pm.addPass(createConvertMathToLLVMPass()); // what gpu-to-nvvm leaves (fma)
  pm.addPass(createReconcileUnrealizedCastsPass());
  if (failed(pm.run(kernels)) || failed(defineLibdeviceSubset(kernels)))
    return failure();

  // The gpu.module's body, now LLVM dialect, as a module of its own.
  OwningOpRef<ModuleOp> llvmDialect = ModuleOp::create(loc);
  OpBuilder b(llvmDialect->getBodyRegion());
  for (Operation &op : kernels.getBody()->getOperations())
    if (!op.hasTrait<OpTrait::IsTerminator>())
      b.clone(op);
  llvm::LLVMContext llvmCtx;
  std::unique_ptr<llvm::Module> module =
      translateModuleToLLVMIR(*llvmDialect, llvmCtx, kernels.getName());
  if (!module)
    return emitError(loc) << "translating the kernels to LLVM IR failed";
  return emitPtx(*module, arch, loc);
}

} // namespace expc::codegen
