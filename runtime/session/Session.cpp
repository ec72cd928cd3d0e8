// The session: the runtime's one entry point (include/exprt/Runtime.h).
#include "exprt/Runtime.h"

#include "cache/FeatureStore.h"
#include "data/LoadScreen.h"
#include "parallel/Collective.h"
#include "eval/Evaluator.h"
#include "exec/Faults.h"
#include "exec/GraphExecutor.h"
#include "exec/Kernels.h"
#include "exec/Pretrained.h"
#include "plan/Plan.h"
#include "session/Device.h"
#include "record/Json.h"
#include "record/Report.h"
#include "record/Sha256.h"
#include "side/Molecules.h"
#include "side/SideTables.h"
#include "train/Checkpoint.h"
#include "train/Trainer.h"

#ifdef EXP_WITH_CUDA
#include "gpu/CudaRuntime.h"
#endif

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <cstdarg>
#include <cstdlib>
#include <cstdio>

namespace exprt {
namespace {
// printf into a std::string (the runtime keeps its dependencies to LibTorch
// and nlohmann/json).
std::string format(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}
// The content hash of the data a run read: every column and the split.
std::string dataSha256(const Screen &screen) {
  Sha256 h;
  h.update(std::string("exp-data/2"));
  if (screen.dataSha256.empty())
    h.update(screen.images);
  else
    h.update(screen.dataSha256);
  for (const torch::Tensor &t : {screen.perturbation, screen.plate, screen.well})
    h.update(t);
  for (const std::vector<int64_t> *rows : {&screen.trainSites, &screen.valSites, &screen.evalSites})
    h.update(torch::tensor(*rows, torch::kInt64));
  return h.hex();
}
// Rank 0's word to the ranks waiting for it (Collective::announce): that it
// failed, unless it is told otherwise before leaving the scope.
struct Announcement {
  const Collective *to;
  const char *key;
  // Says it succeeded (now, not at the end of the scope).
  void succeeded() {
    if (to)
      to->announce(key, true);
    to = nullptr;
  }
  ~Announcement() {
    try {
      if (to)
        to->announce(key, false);
    } catch (const std::exception &) { // the others then fail on rank 0's absence
    }
  }
};
} // namespace

const char *runtimeVersion() { return expcontract::kVersion; }

Status writeSimulatedScreenFiles(const std::string &planJson, const std::string &dir) {
  Plan plan;
  if (Status s = readPlan(planJson, "the plan", plan); !s)
    return s;
  if (plan.dataKind != "simulated_screen")
    return Status::error(ErrorKind::PlanInvalid, "dataset `" + plan.dataName + "` is a `" + plan.dataKind +
                         "`, not a simulated_screen");
  std::error_code ec;
  if (std::filesystem::exists(dir, ec))
    return Status::error(ErrorKind::OutputUnwritable, dir + ": already exists; choose a new directory");
  return writeSimulatedScreenDir(plan.dataParams, dir);
}
int planFormatVersion() { return kPlanFormatVersion; }

struct Session::Impl {
  SessionOptions options;
  Plan plan;
  bool loaded = false;
  nlohmann::json metrics;
  nlohmann::json plots; // what the report draws (evaluateAll's plots)
  std::string phase = "starting"; // for messages about exceptions
  torch::Device device{torch::kCPU};
  std::shared_ptr<Collective> collective; // data-parallel runs only

  // What a run's phases hand on to the next.
  struct Run {
    Screen screen;
    std::string description; // of the data, for the progress line
    double dataSeconds = 0;
    std::vector<SideRecord> sides;
    ParameterStore params;
    std::vector<PretrainedRecord> pretrained;
    FeatureStore features;
    nlohmann::json before, random, after; // evaluations: untrained, random embeddings, trained
    TrainResult train;
  };
  bool root() const { return options.rank == 0; } // evaluates; the other ranks only train
  Status readData(Run &r);
  Status placeParameters(Run &r);
  Status prepare(Run &r);
  Status evaluateUntrained(Run &r, uint64_t evalSeed);
  Status trainAndEvaluate(Run &r, uint64_t evalSeed);
  nlohmann::json record(const Run &r) const;
};

Session::Session() : impl_(std::make_unique<Impl>()) {}
Session::~Session() = default;

std::unique_ptr<Session> Session::create(const SessionOptions &options, Status &status) {
  torch::Device device(torch::kCPU);
  // A data-parallel rank's `cuda` is its node-local GPU.
  const std::string spec = options.device == "cuda" && options.worldSize > 1
                               ? "cuda:" + std::to_string(options.localRank)
                               : options.device;
  if (status = resolveDevice(spec, device); !status)
    return nullptr;
  if (options.worldSize < 1 || options.rank < 0 || options.rank >= options.worldSize) {
    status = Status::error(ErrorKind::TrainingRanks, "rank " + std::to_string(options.rank) + " is not in a world of " +
                           std::to_string(options.worldSize));
    return nullptr;
  }
  std::unique_ptr<Session> s(new Session());
  s->impl_->options = options;
  s->impl_->device = device;
  if (options.worldSize > 1 || options.hooks.groupOfOne) {
    s->impl_->collective = Collective::connect(options, status);
    if (!s->impl_->collective)
      return nullptr;
  }
  int threads = options.threads > 0 ? options.threads
                                    : std::max(1u, std::thread::hardware_concurrency());
  torch::set_num_threads(threads);
  status = Status::ok();
  return s;
}

Status Session::loadPlan(const std::string &planJson, const std::string &origin) {
  Plan plan;
  if (Status s = parsePlan(planJson, origin, plan); !s)
    return s;
  // A cuda plan also runs on a CPU (its groups' ops one by one; the PTX is
  // unused), so it can be checked before it is carried to the GPU machine.
  if (plan.target != "cpu" && plan.target != "cuda")
    return Status::error(ErrorKind::PlanUnsupported, origin + ": compiled for target `" + plan.target +
                         "`, which this runtime does not know (it runs `cpu` and `cuda` plans)");
  if (!readsDataSource(plan.dataKind))
    return Status::error(ErrorKind::PlanUnsupported, origin + ": the `" + plan.dataKind +
                         "` data source cannot be read by this runtime yet (docs/data.md lists "
                         "the readers)");
  if (Status s = checkDataFeatures(plan, origin); !s)
    return s;
  impl_->plan = std::move(plan);
  impl_->loaded = true;
  return Status::ok();
}

Status Session::loadPlanFile(const std::string &path) {
  std::string text;
  if (!readFile(path, text))
    return Status::error(ErrorKind::PlanUnreadable, path + ": cannot open plan");
  return loadPlan(text, path);
}

Status Session::run() {
  if (!impl_->loaded)
    return Status::error(ErrorKind::Internal, "no plan loaded");
  // LibTorch reports failures (out of memory among them) as exceptions; the
  // API reports them as a Status, first line only.
  try {
    return runUnchecked();
  } catch (const InputShapeMismatch &e) {
    return Status::error(ErrorKind::InputMismatch, impl_->plan.sourcePath + ": " + e.what() + " (while " +
                                                       impl_->phase + ")");
  } catch (const OpFailure &e) {
    return Status::error(ErrorKind::PlanInvalid, impl_->plan.sourcePath + ": " + e.what() + " (while " +
                                                     impl_->phase + ")");
  } catch (const std::exception &e) {
    if (std::string oom = outOfMemory(e); !oom.empty())
      return Status::error(ErrorKind::OutOfMemory, "out of memory while " + impl_->phase + ": " + oom + kOutOfMemoryAdvice);
    std::string what = e.what();
    return Status::error(ErrorKind::Internal, "the runtime failed while " + impl_->phase + ": " +
                         what.substr(0, what.find('\n')));
  }
}

// The data: read and packed, labels checked against what the spec sizes,
// side information featurised (or read from the cache) once before the rows
// are bagged (invalid structures may drop rows).
Status Session::Impl::readData(Run &r) {
  auto t0 = std::chrono::steady_clock::now();
  phase = "reading the data";
  DataOptions data;
  data.cacheDir = options.dataCacheDir;
  data.threads = torch::get_num_threads();
  data.progress = options.progress;
  data.scaffoldOf = murckoScaffold;
  if (Status s = loadScreen(plan, data, r.screen, r.description); !s)
    return s;
  Screen &screen = r.screen;
  if (plan.bag > 1 && screen.paired)
    return Status::error(ErrorKind::PlanInvalid, plan.sourcePath + ": a dataset cannot bag sites and pair them at once");
  // Labels columns the spec sizes (an embedding table's classes) must fit the data.
  for (const auto &[name, graph] : plan.graphs)
    for (const GraphInput &in : graph.inputs)
      if (in.classes > 0 && screen.hasColumn(in.column)) {
        const torch::Tensor all = screen.column(in.column, torch::arange(screen.perturbation.size(0)));
        const int64_t have = all.numel() ? all.max().item<int64_t>() + 1 : 0;
        if (have > in.classes)
          return Status::error(ErrorKind::InputMismatch, plan.sourcePath + ": the data has " + std::to_string(have) + " `" + in.column +
                               "` classes, but the spec sizes the column for " + std::to_string(in.classes) +
                               " (raise the `classes` of what embeds it)");
      }
  phase = "featurising side information";
  if (Status s = featuriseSides(plan, screen, options.featureCacheDir, options.progress, r.sides); !s)
    return s;
  bagSites(screen, plan.bag);
  r.dataSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (options.progress)
    std::fprintf(stderr, "data: %s; %zu training and %zu held-out sites (%.1fs)\n", r.description.c_str(),
                 screen.trainSites.size(), screen.evalSites.size(), r.dataSeconds);
  return Status::ok();
}

// The parameters on the run's device (with a cuda plan's generated kernels
// there), drawn from the seed, then any pretrained weights.
Status Session::Impl::placeParameters(Run &r) {
  phase = "allocating the parameters"; // a huge one runs out of memory here
  Placement placement;
  placement.device = device;
#ifdef EXP_WITH_CUDA
  if (placement.device.is_cuda())
    placement.runtime = gpu::cudaDeviceRuntime(placement.device);
  // A cuda plan's elementwise groups run as its generated kernels there
  // (EXP_GENERATED_KERNELS=0: op by op, for comparisons).
  if (placement.device.is_cuda() && !plan.gpu.ptx.empty() && options.hooks.generatedKernels) {
    Status s = Status::ok();
    placement.groups = gpu::loadGeneratedGroups(plan.gpu, placement.device, s);
    if (!s)
      return s.prefixed(plan.sourcePath + ": ");
  }
#endif
  placement.collective = collective;
  r.params.initialise(plan.parameters, static_cast<uint64_t>(plan.train.seed), placement);
  phase = "loading pretrained weights";
  if (Status s = loadPretrained(plan, r.params, r.pretrained); !s)
    return s;
  for (const PretrainedRecord &p : r.pretrained)
    if (options.progress)
      std::fprintf(stderr, "weights: %lld tensors from %s%s\n", static_cast<long long>(p.loaded), p.file.c_str(),
                   p.unexpected.empty()
                       ? ""
                       : (" (" + std::to_string(p.unexpected.size()) + " of its tensors unused)").c_str());
  return Status::ok();
}

// Everything before the first evaluation: the data, the parameters and the
// features of the frozen encoders the compiler hoisted out of the step and
// the evaluation graphs (run here, once, over every row). With caches, rank
// 0 prepares first and the other ranks then read what it cached instead of
// each doing it again.
Status Session::Impl::prepare(Run &r) {
  const Collective *dist = collective.get();
  const bool prepareOnRoot = dist && (!options.dataCacheDir.empty() || !options.featureCacheDir.empty());
  if (prepareOnRoot && !root()) {
    phase = "waiting for rank 0 to prepare the data";
    if (!dist->awaitAnnouncement("prepared"))
      return Status::error(ErrorKind::TrainingRanks, "rank 0 could not prepare the data (its error says why)");
  }
  Announcement announcement{prepareOnRoot && root() ? dist : nullptr, "prepared"};
  if (Status s = readData(r); !s)
    return s;
  if (Status s = placeParameters(r); !s)
    return s;
  std::vector<int64_t> rows = r.screen.trainSites;
  rows.insert(rows.end(), r.screen.evalSites.begin(), r.screen.evalSites.end());
  phase = "precomputing features";
  if (Status s = r.features.build(plan, r.screen, r.params, rows, options.featureCacheDir, options.progress); !s)
    return s;
  announcement.succeeded();
  // Every rank starts from rank 0's parameters (they are drawn from the same
  // seed, so this only guards against a rank whose files differ).
  if (collective) {
    std::vector<torch::Tensor> all;
    for (const ParameterSpec &p : plan.parameters)
      all.push_back(r.params.get(p.name));
    phase = "synchronising the ranks' parameters";
    collective->broadcastFromRoot(all);
  }
  // Validation rows come out of the training rows (after the features, whose
  // cache key covers every row either way).
  splitValidation(r.screen, plan.valFraction, plan.dataParams.value("seed", uint64_t(0)));
  if (options.progress && !r.screen.valSites.empty())
    std::fprintf(stderr, "data: %zu of the training sites kept aside for validation\n", r.screen.valSites.size());
  return Status::ok();
}

// Rank 0's evaluations of the untrained model and of random embeddings; the
// other ranks wait for them through the store (they can outlast a
// collective's timeout).
Status Session::Impl::evaluateUntrained(Run &r, uint64_t evalSeed) {
  const Collective *dist = collective.get();
  if (dist && !root()) {
    phase = "waiting for rank 0 to evaluate the untrained model";
    if (!dist->awaitAnnouncement("evaluated-before"))
      return Status::error(ErrorKind::TrainingRanks, "rank 0 could not evaluate the untrained model (its error says why)");
  }
  Announcement evaluated{dist && root() ? dist : nullptr, "evaluated-before"};
  phase = "evaluating before training";
  if (root()) {
    if (Status s = evaluateAll(plan, r.screen, r.features, r.params, EmbeddingSource::Model, evalSeed, r.before); !s)
      return s;
    if (Status s = evaluateAll(plan, r.screen, r.features, r.params, EmbeddingSource::Random, evalSeed, r.random);
        !s)
      return s;
  }
  evaluated.succeeded();
  return Status::ok();
}

Status Session::Impl::trainAndEvaluate(Run &r, uint64_t evalSeed) {
  TrainOptions to;
  to.progress = options.progress;
  to.progressBar = options.progressBar;
  to.runDir = options.runDir;
  to.checkpointEvery = options.checkpointEvery;
  to.resume = options.resume;
  to.dataWorkers = options.dataWorkers;
  to.hooks = options.hooks;
  phase = "training";
  if (Status s = train(plan, r.screen, r.features, r.params, to, r.train); !s)
    return s;
  phase = "evaluating";
  if (!root())
    return Status::ok();
  return evaluateAll(plan, r.screen, r.features, r.params, EmbeddingSource::Model, evalSeed, r.after, &plots);
}

namespace {
nlohmann::json sideJson(const std::vector<SideRecord> &sides, nlohmann::json &cache) {
  nlohmann::json side = nlohmann::json::array();
  int64_t hits = 0, cached = 0;
  for (const SideRecord &r : sides) {
    side.push_back({{"name", r.name},
                    {"kind", r.kind},
                    {"key", r.key},
                    {"values", r.values},
                    {"dim", r.dim},
                    {"source", r.source},
                    {"cache_key", r.cacheKey},
                    {"from_cache", r.fromCache},
                    {"dropped_rows", r.dropped},
                    {"invalid", r.invalid},
                    {"truncated", r.truncated},
                    {"seconds", r.seconds}});
    hits += r.fromCache;
    cached += !r.cacheKey.empty();
  }
  // Only tables keyed by content are cached (not knowledge graphs or text).
  cache = {{"hits", hits}, {"misses", cached - hits}};
  return side;
}
} // namespace

// metrics.json (docs/artifact.md).
nlohmann::json Session::Impl::record(const Run &r) const {
  const Screen &screen = r.screen;
  const TrainResult &tr = r.train;
  nlohmann::json m;
  m["plan"] = {{"source", plan.sourcePath},
               {"source_sha256", plan.sourceSha256},
               {"compiler_build_id", plan.buildId},
               {"runtime_version", runtimeVersion()}};
  m["data"] = {{"kind", plan.dataKind},
               {"train_sites", screen.trainSites.size()},
               {"eval_sites", screen.evalSites.size()},
               {"val_sites", screen.valSites.size()},
               {"sha256", dataSha256(screen)},
               {"seconds", r.dataSeconds}};
  m["train"] = {{"name", plan.train.name},
                {"epochs", plan.train.epochs},
                {"steps", tr.steps},
                {"seconds", tr.seconds},
                {"loss", tr.epochLoss},
                {"final_loss", tr.epochLoss.empty() ? 0.0 : tr.epochLoss.back()},
                {"final_lr", tr.stepLr.empty() ? 0.0 : tr.stepLr.back()},
                {"step_loss", tr.stepLoss},
                {"step_lr", tr.stepLr},
                {"step_grad_norm", tr.stepGradNorm},
                {"val_loss", tr.valLoss},
                {"best_epoch", tr.bestEpoch},
                {"stopped_early", tr.stoppedEarly},
                {"threads", torch::get_num_threads()},
                {"device", device.str()},
                {"generated_kernels", r.params.placement().groups != nullptr},
                {"cuda_graph_from_step", tr.graphFromStep},
                {"world_size", options.worldSize}};
  nlohmann::json sideCache;
  m["side"] = sideJson(r.sides, sideCache);
  m["pretrained"] = nlohmann::json::array();
  for (const PretrainedRecord &p : r.pretrained)
    m["pretrained"].push_back(
        {{"file", p.file}, {"sha256", p.sha256}, {"loaded", p.loaded}, {"unexpected", p.unexpected}});
  m["side_cache"] = sideCache;
  m["precompute"] = nlohmann::json::array();
  for (const PrecomputeRecord &p : r.features.records())
    m["precompute"].push_back({{"graph", p.graph},
                               {"key", p.key},
                               {"rows", p.rows},
                               {"from_cache", p.fromCache},
                               {"seconds", p.seconds}});
  nlohmann::json evals = nlohmann::json::object();
  for (const EvalSpec &e : root() ? plan.evaluations : std::vector<EvalSpec>{}) {
    nlohmann::json x = r.after.value(e.name, nlohmann::json());
    x["untrained"] = r.before.value(e.name, nlohmann::json());
    x["random_embeddings"] = r.random.value(e.name, nlohmann::json());
    for (nlohmann::json *y : {&x["untrained"], &x["random_embeddings"]}) {
      y->erase("metric");
      y->erase("per_group");
    }
    evals[e.name] = x;
  }
  m["evaluations"] = evals;
  return m;
}

Status Session::runUnchecked() {
  Impl::Run r;
  const uint64_t evalSeed = static_cast<uint64_t>(impl_->plan.train.seed) + 7919;
  if (Status s = impl_->prepare(r); !s)
    return s;
  if (Status s = impl_->evaluateUntrained(r, evalSeed); !s)
    return s;
  if (Status s = impl_->trainAndEvaluate(r, evalSeed); !s)
    return s;
  impl_->metrics = impl_->record(r);
  return Status::ok();
}

std::string Session::metricsJson() const { return impl_->metrics.dump(2) + "\n"; }

std::string Session::metricsSummary() const {
  std::string out = format("%-28s %10s %10s %10s\n", "evaluation", "trained", "untrained",
                           "random");
  const nlohmann::json &evals = impl_->metrics["evaluations"];
  for (auto it = evals.begin(); it != evals.end(); ++it) {
    const nlohmann::json &r = it.value();
    if (r.contains("nothing_to_score"))
      out += format("%-28s nothing to score: %s\n", it.key().c_str(),
                    r["nothing_to_score"].get<std::string>().c_str());
    for (auto f = r.begin(); f != r.end(); ++f) {
      if (!f.value().is_number_float())
        continue;
      auto pick = [&](const char *which) {
        const nlohmann::json &x = r[which];
        return x.contains(f.key()) ? format("%10.4f", x[f.key()].get<double>())
                                   : std::string(10, ' ');
      };
      out += format("%-28s %10.4f %s %s\n", (it.key() + " " + f.key()).c_str(),
                    f.value().get<double>(), pick("untrained").c_str(),
                    pick("random_embeddings").c_str());
    }
  }
  return out;
}

Status Session::writeRecord(const std::string &dir) const {
  if (Status s = writeFileAtomic(dir + "/metrics.json", metricsJson()); !s)
    return s;
  const std::string title = "exp run: " + std::filesystem::path(dir).filename().string();
  return writeFileAtomic(dir + "/report.html", renderReport(title, impl_->metrics, impl_->plots));
}

std::string Session::latestCheckpoint() const {
  return impl_->options.runDir.empty() ? "" : exprt::latestCheckpoint(impl_->options.runDir);
}

} // namespace exprt
