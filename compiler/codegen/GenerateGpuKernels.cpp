//===- GenerateGpuKernels.cpp - step.fusion groups as PTX kernels ---------===//
//
// See the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "codegen/FusionKernels.h"
#include "codegen/NvptxBackend.h"
#include "transforms/Passes.h"

#include "dialects/step/StepDialect.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"

namespace expc {
#define GEN_PASS_DEF_STEPGENERATEGPUKERNELS
#include "transforms/Passes.h.inc"
} // namespace expc

using namespace mlir;
namespace step = expc::step;

namespace {

struct StepGenerateGpuKernels : expc::impl::StepGenerateGpuKernelsBase<StepGenerateGpuKernels> {
  using StepGenerateGpuKernelsBase::StepGenerateGpuKernelsBase;

  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<step::StepDialect>();
    expc::codegen::registerNvptxBackend(registry);
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!expc::codegen::isSupportedGpuArch(arch)) {
      module.emitError() << "GPU architecture `" << arch << "` is not one of "
                         << expc::codegen::kSupportedGpuArchs;
      return signalPassFailure();
    }
    SmallVector<step::FusionOp> fusions;
    module.walk([&](step::FusionOp f) { fusions.push_back(f); });
    if (fusions.empty())
      return;

    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    auto kernels = b.create<gpu::GPUModuleOp>(module.getLoc(), "exp_kernels");
    b.setInsertionPoint(kernels.getBody()->getTerminator());
    llvm::StringMap<std::string> byKey;
    int64_t withKernel = 0;
    for (step::FusionOp f : fusions) {
      if (std::string why = expc::codegen::whyNoKernel(f); !why.empty()) {
        if (explain)
          f.emitRemark() << "no GPU kernel for this group: " << why;
        continue;
      }
      auto [it, fresh] = byKey.try_emplace(expc::codegen::kernelKey(f), "");
      if (fresh) {
        it->second = "fusion_" + std::to_string(byKey.size() - 1);
        expc::codegen::buildFusionKernels(b, f, it->second, expc::codegen::KernelTarget::Gpu);
      }
      f->setAttr("step.kernel", b.getStringAttr(it->second));
      ++withKernel;
    }
    if (byKey.empty()) {
      kernels.erase();
      return;
    }
    if (keepKernels) {
      OpBuilder after(module.getContext());
      after.setInsertionPointAfter(kernels);
      after.clone(*kernels);
    }
    FailureOr<std::string> ptx = expc::codegen::compileToPtx(kernels, arch);
    kernels.erase();
    if (failed(ptx))
      return signalPassFailure();
    module->setAttr("step.gpu",
                    b.getDictionaryAttr({
                        b.getNamedAttr("arch", b.getStringAttr(arch)),
                        b.getNamedAttr("block", b.getI64IntegerAttr(expc::codegen::kFusionBlockSize)),
                        b.getNamedAttr("ptx", b.getStringAttr(*ptx)),
                    }));
    if (explain)
      module.emitRemark() << byKey.size() << " kernel pair" << (byKey.size() == 1 ? "" : "s")
                          << " for " << withKernel << " of " << fusions.size() << " group"
                          << (fusions.size() == 1 ? "" : "s") << ", " << ptx->size()
                          << " bytes of PTX for " << arch;
  }
};

} // namespace
