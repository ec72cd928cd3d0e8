// exp-opt: parse, verify, run passes on and print exp/step IR (for lit tests
// and for working on single passes), in the style of mlir-opt.
#include "dialects/exp/ExpDialect.h"
#include "dialects/step/StepDialect.h"
#include "transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<expc::expd::ExpDialect, expc::step::StepDialect, mlir::func::FuncDialect>();
  expc::registerExpPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "exp optimizer: exp and step dialect driver\n", registry));
}
