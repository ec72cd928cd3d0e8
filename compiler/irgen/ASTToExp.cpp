#include "irgen/ASTToExp.h"

#include "dialects/exp/ExpDialect.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

#include <map>

namespace expc {
namespace {

using ast::Decl;
using ast::DeclKind;
using ast::Expr;
using ast::ExprKind;
using namespace mlir;

class Importer {
public:
  Importer(MLIRContext &ctx, const Sema &sema, const SourceManager &sources)
      : ctx_(ctx), sema_(sema), sources_(sources), b_(&ctx) {}

  OwningOpRef<ModuleOp> run(StringRef name) {
    const ast::Module &m = sema_.module();
    Location fileLoc = FileLineColLoc::get(&ctx_, sources_.name(m.file), 1, 1);
    OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
    b_.setInsertionPointToEnd(module->getBody());
    auto exp = b_.create<expd::ExperimentOp>(fileLoc, b_.getStringAttr(name));
    b_.setInsertionPointToEnd(&exp.getBody().emplaceBlock());

    for (const Decl &d : m.decls)
      if (d.kind == DeclKind::Dataset)
        dataset(d);
    for (const Decl &d : m.decls)
      if (d.kind == DeclKind::Encoder)
        encoder(d);
    for (const Decl &d : m.decls)
      if (d.kind == DeclKind::Objective)
        objective(d);
    for (const Decl &d : m.decls)
      if (d.kind == DeclKind::Train)
        train(d);
    for (const Decl &d : m.decls)
      if (d.kind == DeclKind::Evaluate)
        evaluate(d);
    return module;
  }

private:
  Location loc(const SourceRange &r) {
    return FileLineColLoc::get(&ctx_, sources_.name(r.file), r.beginLine, r.beginCol);
  }

  Attribute attr(const Value &v) {
    switch (v.kind) {
    case Value::Kind::Int:
      return b_.getI64IntegerAttr(v.i);
    case Value::Kind::Float:
      return b_.getF64FloatAttr(v.f);
    case Value::Kind::Bool:
      return b_.getBoolAttr(v.b);
    case Value::Kind::String:
      return b_.getStringAttr(v.s);
    case Value::Kind::List: {
      SmallVector<Attribute> items;
      for (const Value &x : v.list)
        items.push_back(attr(x));
      return b_.getArrayAttr(items);
    }
    case Value::Kind::None:
      break;
    }
    return b_.getUnitAttr();
  }

  // The constant parameters of a bound call, defaults included.
  DictionaryAttr params(const BoundCall &call) {
    NamedAttrList list;
    for (size_t i = 0; i < call.builtin->params.size(); ++i)
      if (!call.values[i].isNone())
        list.append(call.builtin->params[i].name, attr(call.values[i]));
    return list.getDictionary(&ctx_);
  }

  mlir::Type columnType(const expc::Type &t) {
    if (t.kind == TypeKind::Images)
      return expd::ImagesType::get(&ctx_, t.channels, t.height, t.width);
    return expd::LabelsType::get(&ctx_, t.classes);
  }

  void dataset(const Decl &d) {
    const BoundCall &call = sema_.info(d).call;
    datasets_[&d] = b_.create<expd::DatasetOp>(loc(d.nameRange), expd::DatasetType::get(&ctx_),
                                               b_.getStringAttr(d.name),
                                               b_.getStringAttr(call.builtin->name), params(call));
  }

  void encoder(const Decl &d) {
    const BoundCall &call = sema_.info(d).call;
    b_.create<expd::EncoderOp>(loc(d.nameRange), b_.getStringAttr(d.name),
                               b_.getStringAttr(call.builtin->name), params(call));
  }

  void objective(const Decl &d) {
    lossName_ = d.name;
    lossCount_ = 0;
    objectives_[&d] = emit(*d.value);
  }

  void train(const Decl &d) {
    const BoundCall &call = sema_.info(d).call;
    lossName_ = d.name;
    lossCount_ = 0;
    mlir::Value loss = emit(*call.arg("objective"));
    const Expr &opt = *call.arg("optimizer");
    const BoundCall &optCall = *sema_.boundCall(opt);
    b_.create<expd::TrainOp>(loc(d.nameRange), loss, b_.getStringAttr(d.name),
                             b_.getI64IntegerAttr(call.value("epochs").i),
                             b_.getI64IntegerAttr(call.value("batch").i),
                             b_.getI64IntegerAttr(call.value("seed").i),
                             b_.getStringAttr(optCall.builtin->name), params(optCall));
  }

  void evaluate(const Decl &d) {
    const BoundCall &call = sema_.info(d).call;
    std::string metric = call.builtin->name;
    SmallVector<mlir::Value> inputs;
    NamedAttrList options;
    if (metric == "replicate_map") {
      inputs.push_back(emit(*call.arg("embedding")));
      options.append("sameby", attr(call.value("sameby")));
      options.append("diffby", attr(call.value("diffby")));
    } else {
      inputs.push_back(emit(*call.arg("query")));
      inputs.push_back(emit(*call.arg("candidates")));
      options.append("k", attr(call.value("k")));
    }
    b_.create<expd::EvaluateOp>(loc(d.nameRange), b_.getStringAttr(metric),
                                b_.getStringAttr(d.name), inputs,
                                options.getDictionary(&ctx_));
  }

  // Collects `weight * loss` terms of an objective expression.
  void terms(const Expr &e, double weight, SmallVector<mlir::Value> &values,
             SmallVector<double> &weights) {
    if (e.kind == ExprKind::Binary && sema_.info(e).type.kind == TypeKind::Loss) {
      const Expr &l = *e.operands[0], &r = *e.operands[1];
      if (e.text == "*") {
        bool leftNumber = sema_.info(l).type.isNumber();
        const Expr &k = leftNumber ? l : r, &loss = leftNumber ? r : l;
        terms(loss, weight * sema_.info(k).constant.number(), values, weights);
      } else {
        terms(l, weight, values, weights);
        terms(r, e.text == "-" ? -weight : weight, values, weights);
      }
      return;
    }
    values.push_back(emit(e));
    weights.push_back(weight);
  }

  mlir::Value emit(const Expr &e) {
    const ExprInfo &info = sema_.info(e);
    switch (e.kind) {
    case ExprKind::Name:
      if (info.decl && info.decl->kind == DeclKind::Dataset)
        return datasets_.at(info.decl);
      if (info.decl && info.decl->kind == DeclKind::Objective) {
        auto it = objectives_.find(info.decl);
        if (it != objectives_.end())
          return it->second;
        std::string name = lossName_;
        unsigned count = lossCount_;
        objective(*info.decl);
        lossName_ = name;
        lossCount_ = count;
        return objectives_.at(info.decl);
      }
      break;
    case ExprKind::Member: {
      auto key = std::make_pair(info.dataset, info.column);
      auto it = columns_.find(key);
      if (it != columns_.end())
        return it->second;
      mlir::Value ds = datasets_.at(info.dataset);
      return columns_[key] = b_.create<expd::ColumnOp>(loc(e.range), columnType(info.type), ds,
                                                       b_.getStringAttr(info.column));
    }
    case ExprKind::Call:
      if (info.encoder) {
        mlir::Value in = emit(*info.input);
        auto key = std::make_pair(info.encoder, in.getAsOpaquePointer());
        auto it = encodes_.find(key);
        if (it != encodes_.end())
          return it->second;
        return encodes_[key] = b_.create<expd::EncodeOp>(
                   loc(e.range), expd::EmbeddingType::get(&ctx_, info.type.dim),
                   FlatSymbolRefAttr::get(&ctx_, info.encoder->name), in);
      }
      if (info.builtin && info.builtin->kind == BuiltinKind::Objective) {
        const BoundCall &call = *sema_.boundCall(e);
        mlir::Value a = emit(*call.arg("a")), b = emit(*call.arg("b"));
        std::string name = lossName_ + (lossCount_ ? "_" + std::to_string(lossCount_) : "");
        ++lossCount_;
        return b_.create<expd::ContrastiveOp>(
            loc(e.range), expd::LossType::get(&ctx_), b_.getStringAttr(info.builtin->name),
            b_.getStringAttr(name), a, b, b_.getF64FloatAttr(call.value("temperature").f),
            b_.getBoolAttr(call.value("learnable_temperature").b),
            b_.getF64FloatAttr(call.value("max_logit_scale").f));
      }
      break;
    case ExprKind::Binary: {
      SmallVector<mlir::Value> values;
      SmallVector<double> weights;
      terms(e, 1.0, values, weights);
      return b_.create<expd::WeightedSumOp>(loc(e.range), expd::LossType::get(&ctx_), values,
                                            b_.getDenseF64ArrayAttr(weights));
    }
    default:
      break;
    }
    // Sema guarantees every expression reaching here has a lowering above.
    llvm_unreachable("expression kind has no exp dialect form");
  }

  MLIRContext &ctx_;
  const Sema &sema_;
  const SourceManager &sources_;
  OpBuilder b_;
  std::map<const Decl *, mlir::Value> datasets_, objectives_;
  std::map<std::pair<const Decl *, std::string>, mlir::Value> columns_;
  std::map<std::pair<const Decl *, const void *>, mlir::Value> encodes_;
  std::string lossName_;
  unsigned lossCount_ = 0;
};

} // namespace

OwningOpRef<ModuleOp> importExperiment(MLIRContext &ctx, const Sema &sema,
                                       const SourceManager &sources, StringRef name) {
  return Importer(ctx, sema, sources).run(name);
}

} // namespace expc
