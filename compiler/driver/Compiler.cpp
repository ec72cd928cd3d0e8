#include "driver/Compiler.h"

#include "dialects/exp/ExpDialect.h"
#include "dialects/step/StepDialect.h"
#include "driver/CompileCache.h"
#include "driver/FrontEnd.h"
#include "driver/ProfileEval.h"
#include "format/Formatter.h"
#include "parse/Parser.h"
#include "irgen/IrGen.h"
#include "plan/PlanEmitter.h"
#include "sema/Sema.h"
#include "transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_os_ostream.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/ADT/StringExtras.h"

#include <cctype>
#include <fstream>
#include <filesystem>
#include <ostream>

namespace expc {
namespace {

// A symbol-safe experiment name from the file name: `my-run.exp` -> `my_run`.
std::string experimentName(const std::string &path) {
  std::string stem = std::filesystem::path(path).stem().string();
  std::string out;
  for (char c : stem)
    out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0])))
    out = "exp_" + out;
  return out;
}

// Routes MLIR diagnostics into the compiler's own format: a FileLineColLoc in
// the .exp file becomes a quoted source line with a caret.
class MlirDiagnostics {
public:
  MlirDiagnostics(mlir::MLIRContext &ctx, const SourceManager &sources, FileId file,
                  DiagnosticEngine &diags)
      : handler_(&ctx, [&, file](mlir::Diagnostic &d) {
          auto d2 = diags.emit(diag::MiddleEndError, range(sources, file, d.getLocation()),
                               d.str());
          for (mlir::Diagnostic &note : d.getNotes())
            d2.note(diag::MiddleEndNote, range(sources, file, note.getLocation()), note.str());
          return mlir::success();
        }) {}

private:
  static SourceRange range(const SourceManager &sources, FileId file, mlir::Location loc) {
    if (auto flc = mlir::dyn_cast<mlir::FileLineColLoc>(loc))
      if (flc.getFilename() == sources.name(file) && flc.getLine() > 0)
        return SourceRange{file, flc.getLine(), flc.getColumn(), flc.getLine(),
                           flc.getColumn() + 1};
    return SourceRange{};
  }
  mlir::ScopedDiagnosticHandler handler_;
};

std::string printModule(mlir::ModuleOp module, bool debugLocations) {
  std::string s;
  llvm::raw_string_ostream os(s);
  mlir::OpPrintingFlags flags;
  if (debugLocations) // inline, so each op shows its .exp line
    flags.enableDebugInfo(/*enable=*/true, /*prettyForm=*/false).useLocalScope();
  module.print(os, flags);
  os << "\n";
  return s;
}

// The passes `--disable-pass` can turn off, in pipeline order; each changes
// how fast the plan runs, not what it computes.
struct OptimisingPass {
  const char *name;
  std::unique_ptr<mlir::Pass> (*create)();
  bool cseAfter; // run exp-cse after it (whether or not it is disabled)
};
// CSE after loss fusion: sharing a similarity matrix between two losses first
// would keep both from fusing. None after grouping: groups are the backend's
// contract, which no later pass looks through.
const OptimisingPass kOptimisingPasses[] = {
    {"step-hoist-frozen-encoders", [] { return createStepHoistFrozenEncoders(); }, false},
    {"step-fuse-contrastive-loss", [] { return createStepFuseContrastiveLoss(); }, true},
    {"step-group-elementwise", [] { return createStepGroupElementwise(); }, false},
};

} // namespace

const std::vector<std::string> &optimisingPasses() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const OptimisingPass &p : kOptimisingPasses)
      out.push_back(p.name);
    return out;
  }();
  return names;
}

namespace {

// Lowers `ir` through the pass pipeline (the optimising passes the options
// leave in, and the GPU backend for a cuda target); false after reporting
// where the reproducer of a failing pass is.
bool runPipeline(mlir::MLIRContext &ctx, mlir::ModuleOp ir, const CompileOptions &options,
                 const std::string &experiment, std::ostream &diagOut) {
  llvm::raw_os_ostream irStream(diagOut); // outlives the pass manager
  mlir::PassManager pm(&ctx);
  if (options.printIrAfterAll) {
    pm.enableIRPrinting([](mlir::Pass *, mlir::Operation *) { return false; },
                        [](mlir::Pass *, mlir::Operation *) { return true; },
                        /*printModuleScope=*/true, /*printAfterOnlyOnChange=*/false,
                        /*printAfterOnlyOnFailure=*/false, irStream);
  }
  // When a pass fails (or crashes), MLIR writes the module as it was before
  // the failing pass, with the pipeline, to this file: `exp-opt FILE
  // --run-reproducer` replays it.
  std::string reproducer = options.crashReproducer;
  if (reproducer.empty())
    reproducer = (std::filesystem::temp_directory_path() / ("exp-reproducer-" + experiment + ".mlir")).string();
  pm.enableCrashReproducerGeneration(reproducer);
  auto enabled = [&](llvm::StringRef name) { return !llvm::is_contained(options.disabledPasses, name); };
  pm.addPass(createExpInlineNetworks());
  pm.addPass(createExpCSE());
  pm.addPass(createExpLowerToStep());
  for (const OptimisingPass &p : kOptimisingPasses) {
    if (enabled(p.name))
      pm.addPass(p.create());
    if (p.cseAfter)
      pm.addPass(createExpCSE());
  }
  // The GPU backend of the grouping contract: a kernel pair per group.
  if (options.target == "cuda") {
    StepGenerateGpuKernelsOptions gpu;
    gpu.arch = options.gpuArch;
    pm.addPass(createStepGenerateGpuKernels(gpu));
  }
  if (succeeded(pm.run(ir)))
    return true;
  diagOut << "note: a reproducer of the failing pass is in " << reproducer << "; replay it with `exp-opt "
          << reproducer << " --run-reproducer`\n";
  return false;
}

// What needs a training plan before it is built: a `train` declaration (a
// `profiles` table is for `exp eval`) and one point, not a sweep.
bool checkPlanInputs(FrontEnd &fe, bool onePoint, const std::string &experiment) {
  Sema &sema = *fe.sema;
  DiagnosticEngine &diags = *fe.diags;
  if (!sema.trainDecl()) {
    auto d = diags.emit(diag::MissingTrain, SourceRange{}, experiment);
    for (const ast::Decl &decl : sema.root().decls)
      if (const DatasetInfo *ds = decl.kind == ast::DeclKind::Dataset ? sema.dataset(decl) : nullptr;
          ds && ds->source && ds->source->decl && ds->source->decl->name == "profiles") {
        d.help("a `profiles` table is evaluated without training: `exp eval TABLE --spec FILE.exp`");
        break;
      }
    return false;
  }
  if (!fe.points.empty() && !onePoint) {
    diags.emit(diag::Unsupported, fe.sema->sweeps()[0].expr->range,
               fmt::format("compiling a file with {} sweep points to one plan", fe.points.size()))
        .help("`exp sweep FILE` compiles and runs every point; `exp check` checks them");
    return false;
  }
  return true;
}

// The compile cache's key: a plan compiled before from the same normalised
// source, overrides, options and target by this build of the compiler (the
// experiment's name, from the file name, is part of the plan).
std::string planCacheKey(const CompileOptions &options, const std::string &normalizedHash,
                         const std::string &experiment, const std::string &pointLabel) {
  std::string passOptions;
  for (const std::string &p : options.disabledPasses)
    passOptions += ";disable=" + p;
  if (!pointLabel.empty())
    passOptions += ";sweep-point=" + pointLabel;
  std::string target = options.target == "cuda" ? "cuda/" + options.gpuArch : options.target;
  return compileCacheKey(buildId(), normalizedHash, "plan;experiment=" + experiment + passOptions, target);
}

// A cached plan for `key`, its header refreshed for this file (path and raw
// hash may differ in whitespace); false when there is none.
bool readCached(const std::string &key, const std::string &path, CompileOutput &out) {
  std::optional<std::string> cached = readCachedPlan(key);
  if (!cached)
    return false;
  nlohmann::json plan = nlohmann::json::parse(*cached, nullptr, /*allow_exceptions=*/false);
  if (plan.is_discarded() || !plan.contains("source"))
    return false;
  plan["source"]["path"] = path;
  plan["source"]["sha256"] = sha256Hex(out.source);
  out.text = plan.dump(1) + "\n";
  out.cacheHit = true;
  return true;
}

// The middle end and the plan: IR generation, the pipeline, emission.
bool compileToPlan(FrontEnd &fe, const std::string &path, const CompileOptions &options,
                   const std::string &normalizedHash, CompileOutput &out, std::ostream &diagOut) {
  mlir::MLIRContext ctx(mlir::MLIRContext::Threading::DISABLED);
  ctx.loadDialect<expd::ExpDialect, step::StepDialect, mlir::func::FuncDialect>();
  MlirDiagnostics bridge(ctx, fe.sources, fe.modules->module(0).file, *fe.diags);
  mlir::OwningOpRef<mlir::ModuleOp> ir = generateIr(ctx, *fe.sema, fe.sources, *fe.diags, out.experimentName);
  if (!ir || failed(mlir::verify(*ir)))
    return false;
  if (options.emit == EmitKind::Exp) {
    out.text = printModule(*ir, options.debugLocations);
    return true;
  }
  if (!runPipeline(ctx, *ir, options, out.experimentName, diagOut))
    return false;
  if (options.emit == EmitKind::Step) {
    out.text = printModule(*ir, options.debugLocations);
    return true;
  }
  PlanHeader header;
  header.sourcePath = path;
  header.sourceSha256 = sha256Hex(out.source);
  header.normalizedSha256 = normalizedHash;
  header.overrides = options.overrides;
  header.target = options.target;
  header.buildId = buildId();
  mlir::FailureOr<nlohmann::json> plan = emitPlan(*ir, header);
  if (failed(plan))
    return false;
  out.text = plan->dump(1) + "\n";
  return true;
}

} // namespace

bool compileFile(const std::string &path, const CompileOptions &options, CompileOutput &out,
                 std::ostream &diagOut) {
  FrontEnd fe;
  out.experimentName = experimentName(path);
  FrontEndOptions feOptions;
  feOptions.jsonDiagnostics = options.jsonDiagnostics;
  feOptions.overrides = options.overrides;
  bool ok = runFrontEnd(path, feOptions, fe, diagOut);
  if (fe.modules && !fe.modules->modules().empty())
    out.source = fe.sources.contents(fe.modules->module(0).file);
  if (!ok)
    return false;
  out.sweepLabels = fe.pointLabels;
  out.sweepParallel = fe.sweepParallel;
  // One point of a sweep (`exp sweep`): elaborated again at that point.
  const bool onePoint = !fe.points.empty() && options.sweepPoint >= 0 &&
                        options.sweepPoint < static_cast<int>(fe.points.size());
  if (onePoint) {
    fe.sema = std::make_unique<Sema>(*fe.modules, fe.sources, *fe.diags);
    if (!fe.sema->check(fe.points[options.sweepPoint]))
      return false;
  }
  if (options.emit == EmitKind::Ast) {
    out.text = ast::dump(fe.sema->root(), fe.sources);
    return true;
  }
  if (options.checkOnly)
    return true;
  if (options.emit == EmitKind::ProfileEval)
    return profileEvalPlan(*fe.sema, *fe.diags, options.profileTable,
                           std::filesystem::path(path).parent_path().string(), out.text);
  if (!checkPlanInputs(fe, onePoint, out.experimentName))
    return false;
  const std::string normalizedHash = normalizedSourceHash(fe, options.overrides);
  const std::string cacheKey = planCacheKey(options, normalizedHash, out.experimentName,
                                            onePoint ? fe.pointLabels[options.sweepPoint] : "");
  out.cacheKey = cacheKey;
  if (options.emit == EmitKind::Plan && options.useCache && !options.printIrAfterAll &&
      readCached(cacheKey, path, out))
    return true;
  if (!compileToPlan(fe, path, options, normalizedHash, out, diagOut))
    return false;
  if (options.emit == EmitKind::Plan && options.useCache)
    writeCachedPlan(cacheKey, out.text);
  return true;
}

} // namespace expc

namespace expc {

int formatFiles(const std::vector<std::string> &paths, bool check, std::ostream &out,
                std::ostream &diagOut) {
  int status = 0;
  for (const std::string &path : paths) {
    SourceManager sources;
    DiagnosticEngine diags(sources, diagOut);
    FileId file = 0;
    std::string error;
    if (!sources.addFile(path, file, error)) {
      diags.emit(diag::CannotReadFile, SourceRange{}, path, error);
      status = 1;
      continue;
    }
    // Only files that parse are formatted: nothing the lexer would drop is lost.
    std::optional<ast::Module> before = parseFile(file, sources, diags);
    if (!before) {
      status = 1;
      continue;
    }
    std::string formatted = formatSource(file, sources);
    // The formatted text must mean the same: its AST, without positions, is
    // the original's. A difference is a formatter bug; refuse to write.
    FileId again = sources.addBuffer(path, formatted);
    std::optional<ast::Module> after = parseFile(again, sources, diags);
    if (!after || ast::dump(*before, sources, false) != ast::dump(*after, sources, false)) {
      diagOut << "exp fmt: internal error: formatting would change the meaning of " << path
              << "; the file is left unchanged (please report this)\n";
      status = 1;
      continue;
    }
    if (formatted == sources.contents(file))
      continue;
    if (check) {
      out << path << ": not formatted; run `exp fmt " << path << "`\n";
      status = 1;
      continue;
    }
    std::string tmp = path + ".fmt.tmp";
    {
      std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
      o << formatted;
      if (!o) {
        diags.emit(diag::CannotReadFile, SourceRange{}, tmp, "cannot write");
        status = 1;
        continue;
      }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
      diags.emit(diag::CannotReadFile, SourceRange{}, path, "cannot replace: " + ec.message());
      status = 1;
    }
  }
  return status;
}

} // namespace expc
