//===- FusionKernels.cpp - a step.fusion's element computation as kernels -===//
//
// One element of a group is a straight-line computation over f32 scalars:
// each step op becomes the arith/math ops of LibTorch's formula, and the
// backward recomputes the forward values and runs reverse mode over them,
// with LibTorch's derivative formulas (relu's at 0 included). The same
// element code goes into a GPU kernel (one element per thread) or a host
// loop; tests run the host loop against float64 references.
//
//===----------------------------------------------------------------------===//

#include "codegen/FusionKernels.h"

#include "dialects/step/StepDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
namespace step = expc::step;

namespace expc::codegen {
namespace {

bool isScalar(Type t) {
  auto r = dyn_cast<RankedTensorType>(t);
  return r && r.getRank() == 0;
}

bool hasLowering(Operation &op) {
  return isa<step::AddOp, step::SubOp, step::MulOp, step::ExpOp, step::TanhOp, step::SigmoidOp,
             step::ReluOp, step::GeluOp>(op);
}

// Builds f32 scalar arithmetic at one insertion point.
struct Scalar {
  OpBuilder &b;
  Location loc;

  Value c(double v) { return b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(v)); }
  Value add(Value x, Value y) { return b.create<arith::AddFOp>(loc, x, y); }
  Value sub(Value x, Value y) { return b.create<arith::SubFOp>(loc, x, y); }
  Value mul(Value x, Value y) { return b.create<arith::MulFOp>(loc, x, y); }
  Value div(Value x, Value y) { return b.create<arith::DivFOp>(loc, x, y); }
  Value neg(Value x) { return b.create<arith::NegFOp>(loc, x); }
  Value exp(Value x) { return b.create<math::ExpOp>(loc, x); }
  Value erf(Value x) { return b.create<math::ErfOp>(loc, x); }
  Value less(Value x, Value y) {
    return b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OLT, x, y);
  }
  Value greater(Value x, Value y) {
    return b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGT, x, y);
  }
  Value select(Value cond, Value x, Value y) { return b.create<arith::SelectOp>(loc, cond, x, y); }
};

// The forward value of `op` from its operands' values.
Value forward(Scalar &s, Operation &op, ValueRange in) {
  return llvm::TypeSwitch<Operation *, Value>(&op)
      .Case([&](step::AddOp) { return s.add(in[0], in[1]); })
      .Case([&](step::SubOp) { return s.sub(in[0], in[1]); })
      .Case([&](step::MulOp) { return s.mul(in[0], in[1]); })
      .Case([&](step::ExpOp) { return s.exp(in[0]); })
      .Case([&](step::TanhOp) { return s.b.create<math::TanhOp>(s.loc, in[0]).getResult(); })
      // 1 / (1 + e^-x), as LibTorch.
      .Case([&](step::SigmoidOp) { return s.div(s.c(1), s.add(s.c(1), s.exp(s.neg(in[0])))); })
      // x < 0 ? 0 : x keeps NaN (and -0) as LibTorch's relu does.
      .Case([&](step::ReluOp) { return s.select(s.less(in[0], s.c(0)), s.c(0), in[0]); })
      // 0.5 x (1 + erf(x / sqrt 2)): the exact GELU.
      .Case([&](step::GeluOp) {
        return s.mul(s.mul(s.c(0.5), in[0]), s.add(s.c(1), s.erf(s.mul(in[0], s.c(M_SQRT1_2)))));
      });
}

// Adds the contributions of `op`'s result adjoint `g` to its operands'
// adjoints (`acc(operand index, contribution)`), LibTorch's formulas.
template <typename Acc>
void backward(Scalar &s, Operation &op, ValueRange in, Value out, Value g, Acc acc) {
  llvm::TypeSwitch<Operation *>(&op)
      .Case([&](step::AddOp) { acc(0, g), acc(1, g); })
      .Case([&](step::SubOp) { acc(0, g), acc(1, s.neg(g)); })
      .Case([&](step::MulOp) { acc(0, s.mul(g, in[1])), acc(1, s.mul(g, in[0])); })
      .Case([&](step::ExpOp) { acc(0, s.mul(g, out)); })
      .Case([&](step::TanhOp) { acc(0, s.mul(g, s.sub(s.c(1), s.mul(out, out)))); })
      .Case([&](step::SigmoidOp) { acc(0, s.mul(s.mul(g, s.sub(s.c(1), out)), out)); })
      // threshold_backward: the gradient passes where the result is > 0.
      .Case([&](step::ReluOp) { acc(0, s.select(s.greater(out, s.c(0)), g, s.c(0))); })
      // cdf(x) + x pdf(x).
      .Case([&](step::GeluOp) {
        Value x = in[0];
        Value cdf = s.mul(s.c(0.5), s.add(s.c(1), s.erf(s.mul(x, s.c(M_SQRT1_2)))));
        Value pdf = s.mul(s.c(0.5 * M_2_SQRTPI * M_SQRT1_2), s.exp(s.mul(s.mul(x, x), s.c(-0.5))));
        acc(0, s.mul(g, s.add(cdf, s.mul(x, pdf))));
      });
}

// Pointer arithmetic on f32 arrays.
struct Memory {
  OpBuilder &b;
  Location loc;
  Value zero; // i64 0

  Value at(Value ptr, Value i) {
    return b.create<LLVM::GEPOp>(loc, ptr.getType(), b.getF32Type(), ptr, ValueRange{i});
  }
  Value load(Value ptr, Value i) { return b.create<LLVM::LoadOp>(loc, b.getF32Type(), at(ptr, i)); }
  void store(Value v, Value ptr, Value i) { b.create<LLVM::StoreOp>(loc, v, at(ptr, i)); }
};

// Loads the group's inputs at element `i` and computes every body value.
llvm::DenseMap<Value, Value> forwardElement(Scalar &s, Memory &m, step::FusionOp fusion,
                                            ValueRange inPtrs, Value i) {
  llvm::DenseMap<Value, Value> val;
  Block &body = fusion.getBody().front();
  for (auto [arg, ptr] : llvm::zip(body.getArguments(), inPtrs))
    val[arg] = m.load(ptr, isScalar(arg.getType()) ? m.zero : i);
  for (Operation &op : body.without_terminator()) {
    SmallVector<Value> in;
    for (Value v : op.getOperands())
      in.push_back(val.lookup(v));
    val[op.getResult(0)] = forward(s, op, in);
  }
  return val;
}

void forwardKernelBody(Scalar &s, Memory &m, step::FusionOp fusion, ValueRange args, Value i) {
  size_t nin = fusion.getInputs().size();
  auto val = forwardElement(s, m, fusion, args.take_front(nin), i);
  Operation *yield = fusion.getBody().front().getTerminator();
  for (auto [v, ptr] : llvm::zip(yield->getOperands(), args.drop_front(nin)))
    m.store(val.lookup(v), ptr, i);
}

void backwardKernelBody(Scalar &s, Memory &m, step::FusionOp fusion, ValueRange args, Value i) {
  size_t nin = fusion.getInputs().size(), nout = fusion.getResults().size();
  auto val = forwardElement(s, m, fusion, args.take_front(nin), i);
  Block &body = fusion.getBody().front();
  llvm::DenseMap<Value, Value> adj;
  auto accumulate = [&](Value v, Value g) {
    Value &a = adj[v];
    a = a ? s.add(a, g) : g;
  };
  for (auto [v, ptr] : llvm::zip(body.getTerminator()->getOperands(), args.slice(nin, nout)))
    accumulate(v, m.load(ptr, i));
  for (Operation &op : llvm::reverse(body.without_terminator())) {
    Value g = adj.lookup(op.getResult(0));
    if (!g)
      continue; // nothing the group yields depends on it
    SmallVector<Value> in;
    for (Value v : op.getOperands())
      in.push_back(val.lookup(v));
    backward(s, op, in, val.lookup(op.getResult(0)), g,
             [&](unsigned k, Value c) { accumulate(op.getOperand(k), c); });
  }
  for (auto [arg, ptr] : llvm::zip(body.getArguments(), args.drop_front(nin + nout))) {
    Value g = adj.lookup(arg);
    m.store(g ? g : s.c(0), ptr, i);
  }
}

using BodyFn = void (*)(Scalar &, Memory &, step::FusionOp, ValueRange, Value);

// (ptr x pointers, i64 n) -> (): every kernel's signature.
FunctionType kernelType(OpBuilder &b, size_t pointers) {
  SmallVector<Type> types(pointers, LLVM::LLVMPointerType::get(b.getContext()));
  types.push_back(b.getI64Type());
  return b.getFunctionType(types, {});
}

// Fills the element body at index `i` (i64) from the insertion point on.
void fillElement(OpBuilder &b, Location loc, step::FusionOp fusion, ValueRange pointers, Value i,
                 BodyFn fill) {
  Scalar s{b, loc};
  Memory m{b, loc, b.create<arith::ConstantOp>(loc, b.getI64IntegerAttr(0))};
  fill(s, m, fusion, pointers, i);
}

void buildGpuKernel(OpBuilder &b, Location loc, StringRef name, size_t pointers,
                    step::FusionOp fusion, BodyFn fill) {
  auto fn = b.create<gpu::GPUFuncOp>(loc, name, kernelType(b, pointers));
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  OpBuilder::InsertionGuard guard(b);
  Block &entry = fn.getBody().front();
  b.setInsertionPointToStart(&entry);
  Value n = entry.getArguments().back();
  Value bid = b.create<gpu::BlockIdOp>(loc, gpu::Dimension::x);
  Value bdim = b.create<gpu::BlockDimOp>(loc, gpu::Dimension::x);
  Value tid = b.create<gpu::ThreadIdOp>(loc, gpu::Dimension::x);
  Value flat = b.create<arith::AddIOp>(loc, b.create<arith::MulIOp>(loc, bid, bdim), tid);
  Value i = b.create<arith::IndexCastOp>(loc, b.getI64Type(), flat);
  Value inside = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, i, n);
  auto guardIf = b.create<scf::IfOp>(loc, inside, /*withElseRegion=*/false);
  b.setInsertionPoint(guardIf.thenBlock()->getTerminator());
  fillElement(b, loc, fusion, entry.getArguments().drop_back(), i, fill);
  b.setInsertionPointAfter(guardIf);
  b.create<gpu::ReturnOp>(loc);
}

void buildHostLoop(OpBuilder &b, Location loc, StringRef name, size_t pointers,
                   step::FusionOp fusion, BodyFn fill) {
  auto fn = b.create<func::FuncOp>(loc, name, kernelType(b, pointers));
  OpBuilder::InsertionGuard guard(b);
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Value n = b.create<arith::IndexCastOp>(loc, b.getIndexType(), entry->getArguments().back());
  Value zero = b.create<arith::ConstantIndexOp>(loc, 0);
  Value one = b.create<arith::ConstantIndexOp>(loc, 1);
  auto loop = b.create<scf::ForOp>(loc, zero, n, one);
  b.setInsertionPoint(loop.getBody()->getTerminator());
  Value i = b.create<arith::IndexCastOp>(loc, b.getI64Type(), loop.getInductionVar());
  fillElement(b, loc, fusion, entry->getArguments().drop_back(), i, fill);
  b.setInsertionPointAfter(loop);
  b.create<func::ReturnOp>(loc);
}

} // namespace

std::string whyNoKernel(step::FusionOp fusion) {
  Block &body = fusion.getBody().front();
  for (Operation &op : body.without_terminator())
    if (!hasLowering(op))
      return "`" + op.getName().getStringRef().str() + "` has no kernel lowering";
  auto shape = dyn_cast<RankedTensorType>(fusion.getResult(0).getType());
  auto f32 = [](Type t) {
    auto r = dyn_cast<RankedTensorType>(t);
    return r && r.getElementType().isF32();
  };
  for (Type t : fusion.getResultTypes())
    if (t != shape || !f32(t))
      return "its results differ in type";
  for (Value in : fusion.getInputs()) {
    auto t = dyn_cast<RankedTensorType>(in.getType());
    if (!f32(t) || (t.getRank() != 0 && t.getRank() != shape.getRank()))
      return "an input is neither of the group's shape nor a scalar";
  }
  return "";
}

std::string kernelKey(step::FusionOp fusion) {
  Block &body = fusion.getBody().front();
  llvm::DenseMap<Value, unsigned> number;
  std::string key;
  for (BlockArgument arg : body.getArguments()) {
    number[arg] = number.size();
    key += isScalar(arg.getType()) ? "s," : "t,";
  }
  for (Operation &op : body) {
    key += op.getName().getStringRef().str() + "(";
    for (Value v : op.getOperands())
      key += std::to_string(number.lookup(v)) + ",";
    key += ")";
    for (Value r : op.getResults())
      number[r] = number.size();
  }
  return key;
}

void buildFusionKernels(OpBuilder &b, step::FusionOp fusion, StringRef name, KernelTarget target) {
  Location loc = fusion.getLoc();
  size_t nin = fusion.getInputs().size(), nout = fusion.getResults().size();
  auto build = target == KernelTarget::Gpu ? buildGpuKernel : buildHostLoop;
  build(b, loc, name, nin + nout, fusion, forwardKernelBody);
  build(b, loc, (name + "_grad").str(), 2 * nin + nout, fusion, backwardKernelBody);
}

} // namespace expc::codegen
