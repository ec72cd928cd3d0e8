#include "irgen/IrGen.h"

#include "transforms/LayerLowerings.h"

#include "dialects/exp/ExpDialect.h"
#include "dialects/exp/Objectives.h"

#include "mlir/IR/Builders.h"

#include <algorithm>
#include <map>
#include <set>

namespace expc {
namespace {

using namespace mlir;
using ast::Decl;
using ast::DeclKind;

class IrGen {
public:
  IrGen(MLIRContext &ctx, const Sema &sema, const SourceManager &sources,
           DiagnosticEngine &diags)
      : ctx_(ctx), sema_(sema), sources_(sources), diags_(diags), b_(&ctx) {}

  OwningOpRef<ModuleOp> run(StringRef name) {
    const ast::Module &m = sema_.root();
    Location fileLoc = FileLineColLoc::get(&ctx_, sources_.name(m.file), 1, 1);
    OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
    b_.setInsertionPointToEnd(module->getBody());
    auto exp = b_.create<expd::ExperimentOp>(fileLoc, b_.getStringAttr(name));
    b_.setInsertionPointToEnd(&exp.getBody().emplaceBlock());

    for (const Decl &d : m.decls)
      if (d.kind == DeclKind::Objective)
        lossNames_[sema_.value(d).get()] = d.name;
    for (const Decl &d : m.decls)
      if (d.kind == DeclKind::Dataset)
        dataset(d);
    for (const Decl &d : m.decls)
      if (d.kind == DeclKind::Objective)
        loss(sema_.value(d), d.name);
    for (const Decl &d : m.decls)
      if (d.kind == DeclKind::Train)
        train(d);
    for (const Decl &d : m.decls)
      if (d.kind == DeclKind::Evaluate)
        evaluate(d);
    if (failed_)
      return nullptr;
    return module;
  }

private:
  Location loc(const SourceRange &r) {
    if (!r.valid())
      return UnknownLoc::get(&ctx_);
    return FileLineColLoc::get(&ctx_, sources_.name(r.file), r.beginLine, r.beginCol);
  }

  // Reports a construct the middle end cannot lower yet; returns null.
  mlir::Value unsupported(SourceRange at, const std::string &what) {
    if (reported_.insert(what).second) {
      auto d = diags_.emit(diag::Unsupported, at, what);
      // Inside a network: also point at the use in the experiment.
      if (use_.valid() && useOf_ && !(use_.file == at.file && use_.beginLine == at.beginLine))
        d.note(diag::InstantiatedHere, use_, useOf_->name);
      d.help("`exp check` accepts it; running it arrives with a later part of the compiler");
    }
    failed_ = true;
    return nullptr;
  }

  Attribute attr(const Val &v) {
    switch (v.kind) {
    case VK::Int: return b_.getI64IntegerAttr(v.i);
    case VK::Float: return b_.getF64FloatAttr(v.f);
    case VK::Bool: return b_.getBoolAttr(v.b);
    case VK::String: return b_.getStringAttr(v.s);
    case VK::List: {
      SmallVector<Attribute> items;
      for (const ValPtr &x : v.items)
        items.push_back(attr(*x));
      return b_.getArrayAttr(items);
    }
    default: return nullptr;
    }
  }

  DictionaryAttr params(const std::map<std::string, ValPtr> &args) {
    NamedAttrList list;
    for (const auto &[name, v] : args)
      if (name.rfind("__", 0) != 0)
        if (Attribute a = attr(*v))
          list.append(name, a);
    return list.getDictionary(&ctx_);
  }

  void dataset(const Decl &d) {
    const DatasetInfo *info = sema_.dataset(d);
    const std::string &source = info->source->decl->name;
    if (source != "simulated_screen" && !expd::isRealSource(source)) {
      unsupported(d.value->range, fmt::format("running data source `{}`", source));
      return;
    }
    // Row selections: column -> the values as the source's metadata writes
    // them (strings unquoted).
    NamedAttrList select;
    for (auto [key, entries] : {std::pair<const char *, const std::map<std::string, std::vector<std::string>> *>{
                                    "hold_out", &info->holdOut},
                                {"keep", &info->keep},
                                {"drop", &info->drop}}) {
      NamedAttrList columns;
      for (const auto &[column, values] : *entries) {
        SmallVector<Attribute> list;
        for (std::string v : values) {
          if (v.size() >= 2 && v.front() == '"' && v.back() == '"')
            v = v.substr(1, v.size() - 2);
          list.push_back(b_.getStringAttr(v));
        }
        columns.append(column, b_.getArrayAttr(list));
      }
      if (!columns.empty())
        select.append(key, columns.getDictionary(&ctx_));
    }
    if (info->holdOutFraction > 0) {
      NamedAttrList random;
      random.append("fraction", b_.getF64FloatAttr(info->holdOutFraction));
      random.append("by", b_.getStringAttr(info->splitBy));
      random.append("stratify", b_.getStringAttr(info->stratify));
      select.append("hold_out_fraction", random.getDictionary(&ctx_));
    }
    datasets_[info] = b_.create<expd::DatasetOp>(loc(d.nameRange), expd::DatasetType::get(&ctx_),
                                                 b_.getStringAttr(d.name),
                                                 b_.getStringAttr(source), params(info->source->args),
                                                 info->augment ? params(info->augment->args) : nullptr,
                                                 b_.getF64FloatAttr(info->valFraction),
                                                 b_.getI64IntegerAttr(info->bag),
                                                 select.empty() ? nullptr : select.getDictionary(&ctx_));
    lastDecl_ = datasets_[info].getDefiningOp();
  }

  mlir::Value data(const Val &v) {
    if (v.kind != VK::Data)
      return unsupported(v.origin, "this value in an objective or evaluation");
    if (!v.column.empty()) {
      auto ds = datasets_.find(v.dataset);
      if (ds == datasets_.end())
        return nullptr;
      const DataType &t = v.type;
      mlir::Type type;
      if (t.modality == "images" && t.dims.size() == 3)
        type = expd::ImagesType::get(&ctx_, t.dims[0], t.dims[1], t.dims[2]);
      else if (t.modality == "images" && t.dims.size() == 4) // a bag of sites
        type = expd::BagType::get(&ctx_, t.dims[0],
                                  expd::ImagesType::get(&ctx_, t.dims[1], t.dims[2], t.dims[3]));
      else if (t.modality == "labels" && t.dims.size() == 1) // -1: counted when the data is read
        type = expd::LabelsType::get(&ctx_, std::max<int64_t>(t.dims[0], 0));
      else if (t.modality == "molecules") // codes of the distinct structures, featurised by a side
        type = expd::LabelsType::get(&ctx_, 0);
      else
        return unsupported(v.origin, fmt::format("a column of type {}", t.describe()));
      return b_.create<expd::ColumnOp>(loc(v.origin), type, ds->second,
                                                       b_.getStringAttr(v.column));
    }
    if (v.encoder && v.encoder->decl->kind == DeclKind::Extern && v.encoder->decl->externKind == "side")
      return side(v);
    if (v.encoder && v.encoder->decl->externKind == "layer")
      return layer(v);
    if (!v.encoder || v.inputs.empty())
      return unsupported(v.origin, "this kind of side information or layer output");
    if (v.inputs.size() == 1 && isLayer(*v.inputs[0].second, "per_channel"))
      return perChannelEncode(v);
    const Val &enc = *v.encoder;
    SmallVector<mlir::Value> in;
    for (size_t p = 0; p < v.inputs.size(); ++p) {
      const ValPtr &x = v.inputs[p].second;
      in.push_back(isText(*x) ? textSide(*x, v.graph.get(), p) : data(*x));
      if (!in.back())
        return nullptr;
      if (!expd::rowType(in.back().getType()))
        return unsupported(x->origin, "encoding this kind of column");
    }
    use_ = v.origin;
    useOf_ = enc.decl;
    std::string symbol = encoderSymbol(enc, v.args, v.graph.get(), v.origin);
    use_ = {};
    useOf_ = nullptr;
    if (symbol.empty())
      return nullptr;
    // One op per use; exp-cse merges the ones that read the same column.
    return b_.create<expd::EncodeOp>(loc(v.origin), expd::EmbeddingType::get(&ctx_, ArrayRef(v.type.dims)),
                                     FlatSymbolRefAttr::get(&ctx_, symbol), in[0], ArrayRef(in).drop_front());
  }

  static bool isLayer(const Val &v, const char *name) {
    return v.kind == VK::Data && v.encoder && v.encoder->decl->externKind == "layer" &&
           v.encoder->decl->name == name;
  }

  // `backbone(per_channel(x, copies))` outside a network (CellCLIP's frozen
  // backbone over each channel of each site, CWCL's `features`): a network
  // that splits the channels and applies the encoder, mapped over the
  // channels (and sites), giving a (sites,) channels x width tensor per row.
  mlir::Value perChannelEncode(const Val &v) {
    const Val &split = *v.inputs[0].second;
    mlir::Value column = split.inputs.size() == 1 ? data(*split.inputs[0].second) : nullptr;
    if (!column)
      return nullptr;
    RankedTensorType in = expd::rowType(column.getType()), mid = tensorType(split.type), out = tensorType(v.type);
    if (!column.getDefiningOp<expd::ColumnOp>() || !in || !mid || !out)
      return unsupported(split.origin, "`per_channel` outside a network over this value");
    use_ = v.origin;
    useOf_ = v.encoder->decl;
    std::string inner = encoderSymbol(*v.encoder, v.args, v.graph.get(), v.origin);
    use_ = {};
    useOf_ = nullptr;
    if (inner.empty())
      return nullptr;
    // One wrapper per (encoder, copies, row type): a bag column and a plain
    // one need two.
    const Val *copies = split.arg("copies");
    std::string base = fmt::format("per_channel{}_{}", copies ? copies->i : 1, inner);
    auto [wrapper, fresh] = perChannel_.try_emplace({base, in.getAsOpaquePointer()}, "");
    if (fresh)
      wrapper->second = usedWrapperNames_.count(base) ? fmt::format("{}_{}", base, ++anon_) : base;
    usedWrapperNames_.insert(wrapper->second);
    const std::string &symbol = wrapper->second;
    if (fresh) {
      OpBuilder::InsertionGuard guard(b_);
      if (lastNetwork_)
        b_.setInsertionPointAfter(lastNetwork_);
      else
        b_.setInsertionPointToStart(b_.getBlock());
      auto net = b_.create<expd::NetworkOp>(loc(split.origin), b_.getStringAttr(symbol + "_net"),
                                            b_.getStringAttr("per_channel"));
      lastNetwork_ = net;
      Block &body = net.getBody().emplaceBlock();
      b_.setInsertionPointToEnd(&body);
      mlir::Value x = body.addArgument(in, loc(split.origin));
      mlir::Value channels = b_.create<expd::LayerOp>(loc(split.origin), mid, b_.getStringAttr("per_channel"),
                                                      b_.getStringAttr("0.per_channel"), ValueRange{x},
                                                      params(split.args));
      mlir::Value y = b_.create<expd::ApplyOp>(loc(v.origin), out, FlatSymbolRefAttr::get(&ctx_, inner),
                                               b_.getStringAttr("1." + inner), ValueRange{channels});
      b_.create<expd::YieldOp>(loc(v.origin), y);
      b_.setInsertionPointAfter(lastDecl_ ? lastDecl_ : net.getOperation());
      lastDecl_ = b_.create<expd::EncoderOp>(loc(v.origin), b_.getStringAttr(symbol), b_.getStringAttr("per_channel"),
                                             DictionaryAttr::get(&ctx_), FlatSymbolRefAttr::get(net),
                                             v.encoder->trainable ? UnitAttr() : b_.getUnitAttr(), StringAttr());
    }
    return b_.create<expd::EncodeOp>(loc(v.origin), expd::EmbeddingType::get(&ctx_, ArrayRef(v.type.dims)),
                                     FlatSymbolRefAttr::get(&ctx_, symbol), column, ValueRange{});
  }

  // A parameter-free layer applied outside networks (MICON's
  // `concat(stop_gradient(images(c1)), molecules(fp))`): a one-layer
  // network, applied like an encoder.
  mlir::Value layer(const Val &v) {
    static const char *const kFree[] = {"concat", "stop_gradient", "normalize"};
    const std::string &op = v.encoder->decl->name;
    if (!llvm::is_contained(kFree, op) || v.inputs.empty())
      return unsupported(v.origin, fmt::format("layer `{}` outside a network (wrap it in a `network`)", op));
    SmallVector<mlir::Value> in;
    for (const auto &[param, x] : v.inputs) {
      in.push_back(data(*x));
      if (!in.back())
        return nullptr;
      if (!isa<expd::EmbeddingType>(in.back().getType()))
        return unsupported(x->origin, fmt::format("layer `{}` over this value outside a network", op));
    }
    RankedTensorType out = tensorType(v.type);
    if (!out || out.getRank() != 1)
      return unsupported(v.origin, fmt::format("layer `{}` giving {} outside a network", op, v.type.describe()));
    std::string symbol = fmt::format("{}_{}", op, ++anon_);
    {
      OpBuilder::InsertionGuard guard(b_);
      if (lastNetwork_)
        b_.setInsertionPointAfter(lastNetwork_);
      else
        b_.setInsertionPointToStart(b_.getBlock());
      auto net = b_.create<expd::NetworkOp>(loc(v.origin), b_.getStringAttr(symbol + "_net"), b_.getStringAttr(op));
      lastNetwork_ = net;
      Block &body = net.getBody().emplaceBlock();
      b_.setInsertionPointToEnd(&body);
      SmallVector<mlir::Value> args;
      for (mlir::Value x : in)
        args.push_back(body.addArgument(expd::rowType(x.getType()), loc(v.origin)));
      mlir::Value y = b_.create<expd::LayerOp>(loc(v.origin), out, b_.getStringAttr(op),
                                               b_.getStringAttr(fmt::format("0.{}", op)), args, params(v.args));
      b_.create<expd::YieldOp>(loc(v.origin), y);
      if (lastDecl_)
        b_.setInsertionPointAfter(lastDecl_);
      else
        b_.setInsertionPointAfter(net);
      lastDecl_ = b_.create<expd::EncoderOp>(loc(v.origin), b_.getStringAttr(symbol), b_.getStringAttr(op),
                                             DictionaryAttr::get(&ctx_), FlatSymbolRefAttr::get(net), UnitAttr(),
                                             StringAttr());
    }
    return b_.create<expd::EncodeOp>(loc(v.origin), expd::EmbeddingType::get(&ctx_, out.getDimSize(0)),
                                     FlatSymbolRefAttr::get(&ctx_, symbol), in[0], ArrayRef(in).drop_front());
  }

  // Side information keyed by a column (`embedding_file`, `transcriptome`,
  // `morgan`): an encoder of that kind, without a network, applied to the
  // key column; the runtime featurises it (docs/sideinfo.md).
  mlir::Value side(const Val &v) {
    const std::string &kind = v.encoder->decl->name;
    if (!expd::isSideKind(kind))
      return unsupported(v.origin, fmt::format("featurising side information `{}` in a run", kind));
    if (v.inputs.size() != 1 || v.type.dims.size() != 1)
      return unsupported(v.origin, fmt::format("side information `{}` over this input", kind));
    mlir::Value key = data(*v.inputs[0].second);
    if (!key)
      return nullptr;
    if (!key.getDefiningOp<expd::ColumnOp>() || !isa<expd::LabelsType>(key.getType()))
      return unsupported(v.inputs[0].second->origin, fmt::format("keying `{}` by a value that is not a labels or "
                                                                 "molecules column",
                                                                 kind));
    auto [it, fresh] = sides_.try_emplace(&v, "");
    if (fresh) {
      it->second = v.side ? v.side->name : fmt::format("{}_{}", kind, ++anon_);
      OpBuilder::InsertionGuard guard(b_);
      if (lastDecl_)
        b_.setInsertionPointAfter(lastDecl_);
      lastDecl_ = b_.create<expd::EncoderOp>(loc(v.origin), b_.getStringAttr(it->second), b_.getStringAttr(kind),
                                             sideParams(v), FlatSymbolRefAttr(), b_.getUnitAttr(), StringAttr());
    }
    mlir::Type type = expd::EmbeddingType::get(&ctx_, v.type.dims[0]);
    if (kind == "knowledge_graph")
      type = expd::KGraphType::get(&ctx_, cast<expd::LabelsType>(key.getType()).getClasses());
    return b_.create<expd::EncodeOp>(loc(v.origin), type, FlatSymbolRefAttr::get(&ctx_, it->second), key, ValueRange{});
  }

  static bool isText(const Val &v) {
    // Rows of a dataset, not a column, are its input: the call itself is the value.
    return v.kind == VK::Data && v.decl && v.decl->kind == DeclKind::Extern && v.decl->externKind == "side" &&
           v.decl->name == "text";
  }

  // The `tokenize` layer that reads network input `input`, if any.
  static const NetNode *tokenizer(const NetGraph &g, size_t input) {
    for (size_t k = g.inputs; k < g.nodes.size(); ++k)
      if (g.nodes[k].kind == NetNode::Kind::Layer && g.nodes[k].op == "tokenize" &&
          g.nodes[k].operands.size() == 1 && g.nodes[k].operands[0] == static_cast<int>(input))
        return &g.nodes[k];
    return nullptr;
  }

  // A `text` side given to input `input` of an encoder whose network
  // tokenises it: the tokenizer moves into the side (its vocabulary, length
  // and casing join the template), so the network takes token ids. Keyed,
  // for the IR, by the template's first column; the runtime renders every
  // row's whole template.
  mlir::Value textSide(const Val &v, const NetGraph *g, size_t input) {
    const NetNode *tok = g ? tokenizer(*g, input) : nullptr;
    if (!tok)
      return unsupported(v.origin, "text into an encoder that does not `tokenize` it first");
    const Val *tmpl = v.arg("template");
    std::vector<Placeholder> placeholders = tmpl ? templatePlaceholders(tmpl->s) : std::vector<Placeholder>{};
    std::string first = !placeholders.empty() && placeholders[0].closed ? placeholders[0].name : "";
    auto ds = datasets_.find(v.dataset);
    const DataType *column = v.dataset && !first.empty() ? v.dataset->column(first) : nullptr;
    if (ds == datasets_.end() || !column)
      return unsupported(tmpl ? tmpl->origin : v.origin, "a `text` template that names no column");
    if (column->modality != "labels" && column->modality != "molecules")
      return unsupported(tmpl->origin, fmt::format("a `text` template whose first placeholder `{}` is {}, not "
                                                   "labels or molecules",
                                                   first, column->describe()));
    mlir::Type keyType = expd::LabelsType::get(
        &ctx_, column->modality == "labels" && !column->dims.empty() ? std::max<int64_t>(column->dims[0], 0) : 0);
    mlir::Value key = b_.create<expd::ColumnOp>(loc(v.origin), keyType, ds->second, b_.getStringAttr(first));
    NamedAttrList list(params(v.args));
    for (const char *k : {"vocab", "length", "vocab_file", "lowercase"})
      if (auto it = tok->config.find(k); it != tok->config.end())
        if (Attribute a = attr(*it->second))
          list.set(k, a);
    DictionaryAttr how = list.getDictionary(&ctx_);
    auto [it, fresh] = textSides_.try_emplace({&v, how.getAsOpaquePointer()}, "");
    if (fresh) {
      // One side per (declaration, tokenizer); a second tokenizer of the
      // same prompts gets its own name.
      std::string name = v.side ? v.side->name : "text";
      it->second = v.side && !usedSideNames_.count(name) ? name : fmt::format("{}_{}", name, ++anon_);
      usedSideNames_.insert(it->second);
      OpBuilder::InsertionGuard guard(b_);
      if (lastDecl_)
        b_.setInsertionPointAfter(lastDecl_);
      lastDecl_ = b_.create<expd::EncoderOp>(loc(v.origin), b_.getStringAttr(it->second), b_.getStringAttr("text"),
                                             how, FlatSymbolRefAttr(), b_.getUnitAttr(), StringAttr());
    }
    return b_.create<expd::EncodeOp>(loc(v.origin),
                                     expd::TokenIdsType::get(&ctx_, expd::intParam(how, "length", 0)),
                                     FlatSymbolRefAttr::get(&ctx_, it->second), key, ValueRange{});
  }

  // A side's parameters; a knowledge graph's `sources` become a list of
  // {kind, params} (the runtime reads each file; docs/sideinfo.md).
  DictionaryAttr sideParams(const Val &v) {
    NamedAttrList list(params(v.args));
    if (const Val *sources = v.arg("sources")) {
      SmallVector<Attribute> items;
      for (const ValPtr &src : sources->items) {
        NamedAttrList one;
        one.append("kind", b_.getStringAttr(src->decl ? src->decl->name : ""));
        one.append("params", params(src->args));
        items.push_back(one.getDictionary(&ctx_));
      }
      list.set("sources", b_.getArrayAttr(items));
    }
    return list.getDictionary(&ctx_);
  }

  // The encoder op for an encoder value, created on first use after the
  // datasets, configured with everything its application bound; a network
  // written in .exp brings the `exp.network` of its instantiation.
  std::string encoderSymbol(const Val &enc, const std::map<std::string, ValPtr> &args,
                            const NetGraph *graph, SourceRange at) {
    if (auto it = encoders_.find(&enc); it != encoders_.end())
      return it->second;
    std::string symbol = enc.named ? enc.named->name : fmt::format("{}_{}", enc.decl->name, ++anon_);
    FlatSymbolRefAttr net;
    const Val *weights = enc.arg("__weights");
    if (enc.decl->kind == DeclKind::Network) {
      if (!graph || graph->output < 0) {
        unsupported(at, fmt::format("running network `{}` here", enc.decl->name));
        return "";
      }
      net = network(*graph);
      if (!net)
        return "";
    } else {
      unsupported(at, fmt::format("running pretrained encoder `{}` (loading weights)", enc.decl->name));
      return "";
    }
    OpBuilder::InsertionGuard guard(b_);
    if (lastDecl_)
      b_.setInsertionPointAfter(lastDecl_);
    lastDecl_ = b_.create<expd::EncoderOp>(loc(enc.origin), b_.getStringAttr(symbol),
                                           b_.getStringAttr(enc.decl->name), params(args), net,
                                           enc.trainable ? UnitAttr() : b_.getUnitAttr(),
                                           weights ? b_.getStringAttr(weights->s) : StringAttr());
    encoders_[&enc] = symbol;
    return symbol;
  }

  // A per-row tensor of `t` (labels are class indices).
  RankedTensorType tensorType(const DataType &t) {
    if (t.modality == "labels")
      return RankedTensorType::get(ArrayRef<int64_t>(t.dims).drop_back(t.core), b_.getI64Type());
    if (t.modality == "images" || t.modality == "vector" || t.modality == "tensor" ||
        t.modality == "tokens")
      if (llvm::all_of(t.dims, [](int64_t d) { return d > 0; }))
        return RankedTensorType::get(t.dims, b_.getF32Type());
    return nullptr;
  }

  // The `exp.network` of one instantiation (and, first, those it calls).
  FlatSymbolRefAttr network(const NetGraph &g) {
    if (auto it = networks_.find(&g); it != networks_.end())
      return it->second;
    std::vector<mlir::Value> values(g.nodes.size());
    // Callees and applied encoders first, so the body can refer to them.
    std::map<size_t, FlatSymbolRefAttr> targets;
    for (size_t k = g.inputs; k < g.nodes.size(); ++k) {
      const NetNode &n = g.nodes[k];
      if (n.kind == NetNode::Kind::Call) {
        if (!n.callee || n.callee->output < 0 || !(targets[k] = network(*n.callee)))
          return unsupported(n.at, fmt::format("running network `{}` here", n.op)), nullptr;
      } else if (n.kind == NetNode::Kind::Apply) {
        if (!n.encoder)
          return unsupported(n.at, fmt::format("running pretrained encoder `{}` (loading weights)", n.op)),
                 nullptr;
        std::string sym = encoderSymbol(*n.encoder, n.encoder->args, n.callee.get(), n.at);
        if (sym.empty())
          return nullptr;
        targets[k] = FlatSymbolRefAttr::get(&ctx_, sym);
      } else if (n.kind == NetNode::Kind::Layer && !hasStepLowering(n.op) && n.op != "tokenize") {
        return unsupported(n.at, fmt::format("running layer `{}`", n.op)), nullptr;
      }
    }
    // Networks open the experiment, callees before callers.
    OpBuilder::InsertionGuard guard(b_);
    if (lastNetwork_)
      b_.setInsertionPointAfter(lastNetwork_);
    else
      b_.setInsertionPointToStart(b_.getBlock());
    std::string symbol = fmt::format("{}_{}", g.decl->name, g.id);
    auto net = b_.create<expd::NetworkOp>(loc(g.decl->nameRange), b_.getStringAttr(symbol),
                                          b_.getStringAttr(g.decl->name));
    lastNetwork_ = net;
    Block &body = net.getBody().emplaceBlock();
    b_.setInsertionPointToEnd(&body);
    for (size_t k = 0; k < g.nodes.size(); ++k) {
      const NetNode &n = g.nodes[k];
      // Text inputs arrive tokenised (textSide): the input is the ids and
      // `tokenize` is the identity on them.
      if (n.kind == NetNode::Kind::Layer && n.op == "tokenize" && n.operands.size() == 1 && values[n.operands[0]]) {
        values[k] = values[n.operands[0]];
        continue;
      }
      RankedTensorType type = tensorType(n.type);
      if (!type && k < g.inputs && n.type.modality == "text")
        if (const NetNode *tok = tokenizer(g, k); tok && tok->config.count("length"))
          type = RankedTensorType::get({tok->config.at("length")->i}, b_.getI64Type());
      if (!type)
        return unsupported(n.at, fmt::format("running a network over {}", n.type.describe())), nullptr;
      if (k < g.inputs) {
        values[k] = body.addArgument(type, loc(n.at));
        continue;
      }
      SmallVector<mlir::Value> operands;
      for (int o : n.operands) {
        if (o < 0 || !values[o])
          return unsupported(n.at, "this tensor expression in a network"), nullptr;
        operands.push_back(values[o]);
      }
      // Token embeddings look up ids, which only `tokenize` gives.
      if (n.op == "token_embedding" && !operands.empty() &&
          !cast<RankedTensorType>(operands[0].getType()).getElementType().isInteger(64))
        return unsupported(n.at, "layer `token_embedding` over values that are not token ids (`tokenize` a "
                                 "`text` input first)"),
               nullptr;
      std::string name = fmt::format("{}.{}", k, n.op);
      if (n.kind == NetNode::Kind::Layer)
        values[k] = b_.create<expd::LayerOp>(loc(n.at), type, b_.getStringAttr(n.op),
                                             b_.getStringAttr(name), operands, params(n.config));
      else if (n.kind == NetNode::Kind::Call)
        values[k] = b_.create<expd::CallOp>(loc(n.at), type, targets[k], b_.getStringAttr(name),
                                            operands);
      else
        values[k] = b_.create<expd::ApplyOp>(loc(n.at), type, targets[k], b_.getStringAttr(name),
                                             operands);
    }
    b_.create<expd::YieldOp>(loc(g.decl->nameRange), values[g.output]);
    return networks_[&g] = FlatSymbolRefAttr::get(net);
  }

  // SimCLR's views are the dataset's augmentations drawn twice: without any,
  // both views would be the same image.
  bool viewsAugmented(const Val &objective) {
    const Val &x = *objective.args.at("x");
    const DatasetInfo *ds = x.dataset;
    for (const Val *at = &x; !ds && at->inputs.size() == 1; at = at->inputs[0].second.get())
      ds = at->inputs[0].second->dataset;
    if (!ds || ds->augment)
      return true;
    diags_.emit(diag::ViewsNeedAugment, x.origin, "simclr", ds->decl ? ds->decl->name : "?")
        .help("add `augment = augmentations(crop = 0.5, flip = true, rot90 = true, intensity = 0.2)` to the dataset block");
    failed_ = true;
    return false;
  }

  mlir::Value loss(const ValPtr &v, const std::string &name) {
    if (auto it = losses_.find(v.get()); it != losses_.end())
      return it->second;
    mlir::Value result;
    if (!v->terms.empty()) {
      SmallVector<mlir::Value> values;
      SmallVector<double> weights;
      for (const auto &[w, t] : v->terms) {
        auto named = lossNames_.find(t.get());
        mlir::Value x = loss(t, named != lossNames_.end() ? named->second
                                                           : fmt::format("{}_{}", name, values.size()));
        if (!x)
          return nullptr;
        values.push_back(x);
        weights.push_back(w);
      }
      result = b_.create<expd::WeightedSumOp>(loc(v->origin), expd::LossType::get(&ctx_), values,
                                              b_.getDenseF64ArrayAttr(weights));
    } else if (v->decl && v->decl->name == "clip") {
      mlir::Value a = data(*v->args.at("a")),
                  b = data(*v->args.at("b"));
      if (!a || !b)
        return nullptr;
      result = b_.create<expd::ContrastiveOp>(
          loc(v->origin), expd::LossType::get(&ctx_), b_.getStringAttr("clip"),
          b_.getStringAttr(name), a, b, b_.getF64FloatAttr(v->arg("temperature")->f),
          b_.getBoolAttr(v->arg("learnable_temperature")->b),
          b_.getF64FloatAttr(v->arg("max_logit_scale")->f));
    } else if (const expd::ObjectiveKind *kind = expd::findObjectiveKind(v->decl ? v->decl->name : "")) {
      // std.objectives' data arguments, in the order exp.objective takes them.
      SmallVector<mlir::Value> values;
      for (llvm::StringRef arg : kind->inputs) {
        mlir::Value x = data(*v->args.at(arg.str()));
        if (!x)
          return nullptr;
        values.push_back(x);
      }
      if (kind->views && !viewsAugmented(*v))
        return nullptr;
      result = b_.create<expd::ObjectiveOp>(loc(v->origin), expd::LossType::get(&ctx_),
                                            b_.getStringAttr(v->decl->name), b_.getStringAttr(name), values,
                                            params(v->args));
    } else {
      return unsupported(v->origin, fmt::format("running objective `{}`",
                                                v->decl ? v->decl->name : "?"));
    }
    return losses_[v.get()] = result;
  }

  void train(const Decl &d) {
    ValPtr t = sema_.value(d);
    const ValPtr &obj = t->args.at("objective");
    auto named = lossNames_.find(obj.get());
    mlir::Value l = loss(obj, named != lossNames_.end() ? named->second : d.name);
    const Val &opt = *t->args.at("optimizer");
    // `schedule = none` is a constant learning rate.
    const Val *sched = t->arg("schedule");
    bool hasSchedule = sched && sched->kind != VK::None && sched->decl;
    if (!l || failed_)
      return;
    b_.create<expd::TrainOp>(
        loc(d.nameRange), l, d.name, t->arg("epochs")->i, t->arg("batch")->i, t->arg("seed")->i,
        opt.decl->name, params(opt.args), t->arg("steps")->i,
        hasSchedule ? sched->decl->name : "constant_lr",
        hasSchedule ? params(sched->args) : b_.getDictionaryAttr({}), t->arg("precision")->s,
        llvm::APFloat(t->arg("clip_grad_norm")->f), t->arg("accumulate")->i,
        t->arg("deterministic")->b, t->arg("early_stop_patience")->i);
  }

  void evaluate(const Decl &d) {
    ValPtr m = sema_.value(d);
    std::string metric = m->decl->name;
    SmallVector<mlir::Value> inputs;
    NamedAttrList options;
    auto heldOut = [&](const char *key) {
      const Val *v = m->arg(key);
      if (v && v->split != "held_out")
        unsupported(v->origin, "evaluating on the training split (evaluate on `.held_out`)");
      return v;
    };
    // A labels argument: the runtime reads that column of the held-out rows.
    auto labelColumn = [&](const char *key) {
      const Val *v = heldOut(key);
      if (v->column.empty())
        unsupported(v->origin, "labels that are not a dataset column");
      return b_.getStringAttr(v->column);
    };
    if (metric == "replicate_map") {
      heldOut("embedding");
      inputs.push_back(data(*m->args.at("embedding")));
      options.append("sameby", labelColumn("sameby"));
      options.append("diffby", labelColumn("diffby"));
      options.append("null_size", attr(*m->args.at("null_size")));
      if (m->arg("normalize_by")->kind != VK::None)
        options.append("normalize_by", labelColumn("normalize_by"));
    } else if (metric == "recall_at") {
      heldOut("query");
      inputs.push_back(data(*m->args.at("query")));
      inputs.push_back(data(*m->args.at("candidates")));
      options.append("k", attr(*m->args.at("k")));
    } else if (metric == "knn_retrieval") {
      heldOut("embedding");
      inputs.push_back(data(*m->args.at("embedding")));
      options.append("labels", labelColumn("labels"));
      options.append("exclude_same", labelColumn("exclude_same"));
      options.append("k", attr(*m->args.at("k")));
    } else if (metric == "zero_shot") {
      heldOut("images");
      inputs.push_back(data(*m->args.at("images")));
      inputs.push_back(data(*m->args.at("molecules")));
      options.append("labels", labelColumn("labels"));
      options.append("top", attr(*m->args.at("top")));
    } else if (metric == "few_shot") {
      // A linear probe on the frozen embedding; fine-tuning the encoder
      // needs a training loop over the held-out rows.
      if (m->arg("finetune")->b)
        unsupported(m->arg("finetune")->origin.valid() ? m->arg("finetune")->origin : d.value->range,
                    "fine-tuning the encoder in `few_shot` (`finetune = false` trains a linear probe)");
      for (const char *key : {"optimizer", "schedule"})
        if (m->arg(key)->kind != VK::None)
          unsupported(m->arg(key)->origin, fmt::format("`{}` in `few_shot` (the probe uses Adam at `lr`)", key));
      heldOut("embedding");
      inputs.push_back(data(*m->args.at("embedding")));
      options.append("labels", labelColumn("labels"));
      for (const char *key : {"shots", "seeds", "epochs", "batch", "lr", "patience", "top"})
        options.append(key, attr(*m->args.at(key)));
    } else if (metric == "clustering") {
      heldOut("embedding");
      inputs.push_back(data(*m->args.at("embedding")));
      options.append("labels", labelColumn("labels"));
      options.append("batch", labelColumn("batch"));
    } else {
      unsupported(d.value->range, fmt::format("running evaluation `{}`", metric));
      return;
    }
    // The `evaluate` block's `batch`: rows embedded at a time.
    if (const Val *batch = m->arg("__batch"))
      options.append("embed_batch", b_.getI64IntegerAttr(batch->i));
    for (mlir::Value v : inputs)
      if (!v)
        return;
    if (failed_)
      return;
    b_.create<expd::EvaluateOp>(loc(d.nameRange), b_.getStringAttr(metric),
                                b_.getStringAttr(d.name), inputs, options.getDictionary(&ctx_));
  }

  MLIRContext &ctx_;
  const Sema &sema_;
  const SourceManager &sources_;
  DiagnosticEngine &diags_;
  OpBuilder b_;
  Operation *lastDecl_ = nullptr;
  Operation *lastNetwork_ = nullptr;
  // The encoder application being imported (for notes on errors inside its network).
  SourceRange use_;
  const Decl *useOf_ = nullptr;
  bool failed_ = false;
  std::set<std::string> reported_;
  int anon_ = 0;
  std::map<const DatasetInfo *, mlir::Value> datasets_;
  std::map<const Val *, std::string> encoders_;
  std::map<const Val *, std::string> sides_; // side information, by value
  std::map<std::pair<const Val *, const void *>, std::string> textSides_; // by value and tokenizer
  std::set<std::string> usedSideNames_;
  // per_channel wrappers, by (base name, row type), and the names taken.
  std::map<std::pair<std::string, const void *>, std::string> perChannel_;
  std::set<std::string> usedWrapperNames_;
  std::map<const NetGraph *, FlatSymbolRefAttr> networks_;
  std::map<const Val *, mlir::Value> losses_;
  std::map<const Val *, std::string> lossNames_;
};

} // namespace

OwningOpRef<ModuleOp> generateIr(MLIRContext &ctx, const Sema &sema,
                                       const SourceManager &sources, DiagnosticEngine &diags,
                                       StringRef name) {
  return IrGen(ctx, sema, sources, diags).run(name);
}

} // namespace expc
