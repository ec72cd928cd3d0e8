#include "train/Trainer.h"

#include "data/Augment.h"
#include "data/Prefetch.h"
#include "data/Random.h"
#include "parallel/Collective.h"
#include "exec/Autocast.h"
#include "exec/Faults.h"
#include "train/Checkpoint.h"
#include "train/GradNorm.h"
#include "train/Optimizer.h"
#include "train/Progress.h"
#include "train/Schedule.h"

#include <torch/torch.h>

#include <cmath>
#include <csignal>
#include <functional>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <set>
#include <sstream>

namespace exprt {
namespace {

std::string describe(double v) { return std::isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf"; }

torch::Generator &cpuGenerator() {
  static torch::Generator g = at::detail::getDefaultCPUGenerator();
  return g;
}

torch::Tensor rngState() {
  std::lock_guard<std::mutex> lock(cpuGenerator().mutex());
  return cpuGenerator().get_state();
}

void setRngState(const torch::Tensor &state) {
  std::lock_guard<std::mutex> lock(cpuGenerator().mutex());
  cpuGenerator().set_state(state);
}

// Where a non-finite loss comes from: the first input or op result that is not
// finite, re-running the batch without gradients from the same RNG state.
std::string findNonFinite(const GraphExecutor &exec,
                          const std::map<std::string, torch::Tensor> &columns, bool bf16) {
  torch::NoGradGuard noGrad;
  Autocast autocast(bf16, exec.device().type());
  const Graph &graph = exec.graph();
  int64_t bad = exec.firstNonFinite(columns);
  if (bad < 0)
    return "";
  if (bad >= static_cast<int64_t>(graph.ops.size()))
    return "; the input `" + graph.inputs[bad - graph.ops.size()].binding + "` is not finite";
  const OpNode &op = graph.ops[bad];
  return "; the first non-finite value is computed by `" + op.op + "`" +
         (op.loc.empty() ? "" : " at " + op.loc);
}

// Eager steps before the step is captured as a graph (CUDA).
constexpr int64_t kEagerStepsBeforeCapture = 3;

// The params of `graph` that training updates (the gradients DDP averages),
// in the store's order.
std::vector<torch::Tensor> trainedBy(const Graph &graph, const ParameterStore &params) {
  std::set<std::string> read;
  for (const OpNode &op : graph.ops)
    if (op.op == "param")
      read.insert(op.attrs.parameter);
  std::vector<torch::Tensor> out;
  for (const ParameterSpec &s : params.specs())
    if (!s.frozen && read.count(s.name))
      out.push_back(params.get(s.name));
  return out;
}

// The training objective on the validation rows, without dropout or
// augmentation: the mean over full batches in a fixed order.
double validationLoss(const GraphExecutor &exec, const FeatureStore &features,
                      const Screen &screen, int64_t batch, bool bf16) {
  torch::NoGradGuard noGrad;
  Autocast autocast(bf16, exec.device().type());
  const std::vector<int64_t> &rows = screen.valSites;
  const int64_t b = std::min<int64_t>(batch, static_cast<int64_t>(rows.size()));
  const int64_t batches = static_cast<int64_t>(rows.size()) / b;
  double sum = 0;
  for (int64_t i = 0; i < batches; ++i) {
    torch::Tensor idx = torch::tensor(
        std::vector<int64_t>(rows.begin() + i * b, rows.begin() + (i + 1) * b), torch::kInt64);
    sum += exec.run(features.inputs(exec.graph(), screen, idx))[0].item<double>();
  }
  return sum / double(batches);
}

// Records validation loss `v` for every epoch that ended since the last
// validation: tracks the best epoch (keeping its parameters when early
// stopping) and stops after `patience` epochs without a lower loss.
void recordValidation(TrainState &st, double v, int64_t patience, const ParameterStore &params) {
  while (st.valLoss.size() < st.epochLoss.size()) {
    st.valLoss.push_back(v);
    if (st.bestEpoch == 0 || v < st.bestValLoss) {
      st.bestValLoss = v;
      st.bestEpoch = static_cast<int64_t>(st.valLoss.size());
      st.badEpochs = 0;
      st.best.clear();
      if (patience > 0)
        for (const ParameterSpec &s : params.specs())
          st.best[s.name] = params.get(s.name).detach().clone();
    } else if (++st.badEpochs >= patience && patience > 0) {
      st.stopped = true;
    }
  }
}

// The op that reads parameter `name` (for messages about its gradient).
std::string readerOf(const Graph &graph, const std::string &name) {
  for (const OpNode &op : graph.ops)
    if (op.op == "param" && op.attrs.parameter == name)
      return op.loc.empty() ? "" : " (read at " + op.loc + ")";
  return "";
}

// The run's step budget.
struct Budget {
  int64_t n = 0;               // training rows
  int64_t batch = 0;           // the global batch
  int64_t share = 0;           // this rank's rows of it
  int64_t batchesPerEpoch = 0; // full batches (contrastive losses need them; like drop_last)
  int64_t totalSteps = 0, totalEpochs = 0, checkpointEvery = 0;
  int64_t lastBatch = 0; // the run's last batch index
  int world = 1, rank = 0;
};

Status makeBudget(const TrainSpec &spec, const TrainOptions &options, int64_t n, const Collective *dist,
                  Budget &b) {
  b.n = n;
  b.batch = std::min<int64_t>(spec.batch, n);
  // Data parallelism: `batch` is the global batch; each rank takes its
  // contiguous share of every global batch, in the same global order.
  b.world = dist ? dist->size() : 1;
  b.rank = dist ? dist->rank() : 0;
  if (b.batch % b.world != 0)
    return Status::error(ErrorKind::TrainingRanks, "training `" + spec.name + "`: the global batch (" + std::to_string(b.batch) +
                         ") is not a multiple of the " + std::to_string(b.world) +
                         " ranks; choose a batch or a process count that divides it");
  b.share = b.batch / b.world;
  b.batchesPerEpoch = std::max<int64_t>(1, n / b.batch);
  b.totalSteps = spec.steps > 0 ? spec.steps
                                : std::max<int64_t>(1, spec.epochs * b.batchesPerEpoch / spec.accumulate);
  b.totalEpochs = (b.totalSteps * spec.accumulate + b.batchesPerEpoch - 1) / b.batchesPerEpoch;
  b.checkpointEvery = options.checkpointEvery > 0 ? options.checkpointEvery
                                                  : std::max<int64_t>(1, b.batchesPerEpoch / spec.accumulate);
  b.lastBatch = b.totalSteps * spec.accumulate - 1;
  return Status::ok();
}

// One training run, as named phases over the state they share: the budget,
// resumption, the batch source, the step (eager, or a replayed CUDA graph),
// validation and reporting, checkpoints.
class TrainLoop {
public:
  TrainLoop(const Plan &plan, const Screen &screen, const FeatureStore &features, ParameterStore &params,
            const TrainOptions &options, TrainResult &result)
      : plan_(plan), spec_(plan.train), graph_(plan.graphs.at(spec_.graph)), screen_(screen),
        features_(features), params_(params), options_(options), result_(result), device_(params.device()),
        accel_(params.placement().runtime.get()),
        exec_(graph_, params), validate_(graph_, params), dist_(params.placement().collective.get()),
        bf16_(spec_.precision == "bf16"), order_(screen.trainSites),
        prefetcher_(options.dataWorkers, /*depth=*/2 * options.dataWorkers) {
    validate_.setInference(true);
  }

  Status run();

private:
  Status prepare();
  Status resume();
  Status saveCheckpoint();
  Batch makeBatch(int64_t b);
  Batch nextBatch();
  void account(double value, double &stepSum);
  Status badGradient(double norm) const;
  Status eagerStep(std::optional<Batch> &pending, double &stepSum, double &norm);
  Status endStep(size_t reported, double lr, double stepSum, double norm);
  Status steps();
  Status lostStep(const std::exception &e) const;
  void finish();
  std::string where() const;
  std::string kept() const;
  Status graphStep(bool &replayed, std::optional<Batch> &pending, double &stepSum, double &norm);
  // The accelerator generator's state (undefined on the CPU), and its restore.
  torch::Tensor deviceRngState() const { return accel_ ? accel_->rngState() : torch::Tensor(); }
  void setDeviceRngState(const torch::Tensor &state) const {
    if (accel_)
      accel_->setRngState(state);
  }

  const Plan &plan_;
  const TrainSpec &spec_;
  const Graph &graph_;
  const Screen &screen_;
  const FeatureStore &features_;
  ParameterStore &params_;
  const TrainOptions &options_;
  TrainResult &result_;
  const torch::Device device_;
  const DeviceRuntime *accel_; // the accelerator's services; null on the CPU
  GraphExecutor exec_, validate_;
  const Collective *dist_;
  const bool bf16_;
  std::vector<int64_t> order_;
  Budget budget_;
  std::unique_ptr<TrainOptimizer> opt_;
  std::unique_ptr<Schedule> schedule_;
  std::mt19937_64 rng_;
  TrainState st_;
  std::optional<Progress> progress_;
  BatchPrefetcher prefetcher_;
  std::vector<torch::Tensor> trainable_;
  std::pair<int64_t, int64_t> inject_{-1, -1}; // EXP_INJECT_NAN's step and op
  // DDP's gradient averaging, overlapped with the backward of each step's last micro-batch.
  std::unique_ptr<GradientSync> sync_;
  // Whole-step graphs (CUDA, gpu/CudaGraphStep.cpp): AdamW, one batch per
  // step, captured after a few eager steps (which create the optimiser's
  // state and warm up the allocator and cuBLAS). EXP_CUDA_GRAPHS=0 turns them off.
  struct {
    bool enabled = false;
    int64_t captureAt = 0;
    std::unique_ptr<ReplayedStep> captured;
    torch::Tensor loss, norm, coefficients;
  } cudaGraph_;
};

std::string TrainLoop::where() const {
  return "training `" + spec_.name + "` stopped at step " + std::to_string(st_.step + 1) + " (epoch " +
         std::to_string(st_.batch / budget_.batchesPerEpoch + 1) + ", batch " +
         std::to_string(st_.batch % budget_.batchesPerEpoch + 1) + ")";
}

std::string TrainLoop::kept() const {
  std::string last = options_.runDir.empty() ? "" : latestCheckpoint(options_.runDir);
  return last.empty() ? std::string("") : "; the last good checkpoint is kept in " + last;
}

// The optimiser, the step budget and the schedule.
Status TrainLoop::prepare() {
  for (const GraphInput &in : graph_.inputs)
    if (in.features.empty() && !screen_.hasColumn(in.column))
      return Status::error(ErrorKind::InputMismatch, "training graph reads column `" + in.column + "`, which the dataset does not have");
  if (Status s = TrainOptimizer::create(spec_, params_, opt_); !s)
    return s;
  at::globalContext().setDeterministicAlgorithms(spec_.deterministic, /*warn_only=*/true);
  if (Status s = makeBudget(spec_, options_, static_cast<int64_t>(order_.size()), dist_, budget_); !s)
    return s;
  if (Status s = Schedule::create(spec_, opt_->baseLr(), budget_.totalSteps, schedule_); !s)
    return s;
  rng_.seed(static_cast<uint64_t>(spec_.seed) * 0x9E3779B97F4A7C15ull + 1);
  return Status::ok();
}

// Continues from the newest checkpoint under the run directory, if any.
Status TrainLoop::resume() {
  if (!options_.resume || options_.runDir.empty())
    return Status::ok();
  std::string ckpt = latestCheckpoint(options_.runDir);
  if (ckpt.empty())
    return Status::ok();
  if (Status s = readCheckpoint(ckpt, plan_.sha256, params_, *opt_, *schedule_, st_); !s)
    return s;
  std::istringstream(st_.shuffleRng) >> rng_;
  setRngState(st_.torchRng);
  setDeviceRngState(st_.deviceRng);
  const int64_t n = budget_.n;
  if (st_.order.numel() != n || (n > 0 && (st_.order.min().item<int64_t>() < 0 ||
                                           st_.order.max().item<int64_t>() >= screen_.perturbation.size(0))))
    return Status::error(ErrorKind::CheckpointMismatch, ckpt + ": its `loader/order` does not hold the " +
                         std::to_string(n) +
                         " training rows of this dataset");
  // Its counters must fit this plan's budget: a step past it would end the
  // run "finished" with fewer steps trained than the plan asks for.
  if (st_.step < 0 || st_.step > budget_.totalSteps || st_.batch != st_.step * spec_.accumulate ||
      st_.epochBatches < 0 || st_.epochBatches > budget_.batchesPerEpoch)
    return Status::error(ErrorKind::CheckpointMismatch,
                         ckpt + ": its counters (step " + std::to_string(st_.step) + ", batch " +
                             std::to_string(st_.batch) + ") do not fit this plan's budget of " +
                             std::to_string(budget_.totalSteps) + " steps of " + std::to_string(spec_.accumulate) +
                             " batch(es); the manifest was edited, or belongs to another run");
  order_.assign(st_.order.data_ptr<int64_t>(), st_.order.data_ptr<int64_t>() + n);
  if (options_.progress)
    std::fprintf(stderr, "resuming from %s (step %lld of %lld)\n", ckpt.c_str(), (long long)st_.step,
                 (long long)budget_.totalSteps);
  return Status::ok();
}

Status TrainLoop::saveCheckpoint() {
  if (options_.runDir.empty() || budget_.rank != 0) // every rank holds the same state
    return Status::ok();
  std::ostringstream r;
  r << rng_;
  st_.shuffleRng = r.str();
  st_.torchRng = rngState();
  if (torch::Tensor deviceRng = deviceRngState(); deviceRng.defined())
    st_.deviceRng = deviceRng;
  st_.order = torch::tensor(order_, torch::kInt64);
  return writeCheckpoint(options_.runDir, plan_.sha256, params_, *opt_, *schedule_, st_);
}

// Batch b of the run: rows of the current epoch's order (built ahead on
// worker threads, never past the epoch's end, as the order is reshuffled there).
Batch TrainLoop::makeBatch(int64_t b) {
  const int64_t pos = b % budget_.batchesPerEpoch;
  const int64_t first = pos * budget_.batch + budget_.rank * budget_.share;
  torch::Tensor idx = torch::tensor(
      std::vector<int64_t>(order_.begin() + first, order_.begin() + first + budget_.share), torch::kInt64);
  Batch inputs = features_.inputs(graph_, screen_, idx, batchSeed(spec_.seed, b, "pairs"));
  auto augment = [&] { augmentBatch(inputs, graph_, plan_.augment, spec_.seed, b); };
  if (accel_) // copied there and augmented on the device (the same draws as on the CPU)
    accel_->placeBatch(inputs, augment);
  else
    augment();
  return inputs;
}

// The run's next batch, on its device.
Batch TrainLoop::nextBatch() {
  const int64_t pos = st_.batch % budget_.batchesPerEpoch;
  if (pos == 0)
    std::shuffle(order_.begin(), order_.end(), rng_);
  Batch inputs = prefetcher_.take(st_.batch,
                                  std::min(budget_.lastBatch, st_.batch - pos + budget_.batchesPerEpoch - 1),
                                  [this](int64_t b) { return makeBatch(b); });
  if (accel_)
    accel_->adoptBatch(inputs);
  return inputs;
}

// Counts one batch's loss into its step's and its epoch's.
void TrainLoop::account(double value, double &stepSum) {
  stepSum += value;
  st_.epochLossSum += value;
  ++st_.epochBatches;
  ++st_.batch;
  if (st_.batch % budget_.batchesPerEpoch == 0) {
    st_.epochLoss.push_back(st_.epochLossSum / double(st_.epochBatches));
    st_.epochLossSum = 0;
    st_.epochBatches = 0;
  }
}

Status TrainLoop::badGradient(double norm) const {
  for (const ParameterSpec &s : params_.specs()) {
    torch::Tensor g = params_.get(s.name).grad();
    if (g.defined() && !torch::isfinite(g).all().item<bool>())
      return Status::error(ErrorKind::TrainingDiverged, where() + ": the gradient of parameter `" + s.name + "`" + readerOf(graph_, s.name) +
                           " is not finite" + kept() +
                           "; lower the learning rate or clip gradients (clip_grad_norm)");
  }
  return Status::error(ErrorKind::TrainingDiverged, where() + ": the gradient norm is " + describe(norm) + kept());
}

// One optimiser step op by op: `accumulate` micro-batches (the first may be
// `pending`, taken for a graph step that could not replay it), clipping,
// the update and the clamps.
Status TrainLoop::eagerStep(std::optional<Batch> &pending, double &stepSum, double &norm) {
  exec_.injectNaN(st_.step + 1 == inject_.first ? inject_.second : -1);
  opt_->zeroGrad();
  for (int64_t a = 0; a < spec_.accumulate; ++a) {
    Batch inputs = a == 0 && pending ? std::move(*pending) : nextBatch();
    torch::Tensor rngBefore = rngState(), deviceRngBefore = deviceRngState();
    torch::Tensor loss;
    {
      Autocast autocast(bf16_, device_.type());
      loss = exec_.run(inputs)[0];
    }
    double value = loss.item<double>();
    if (dist_) // the global batch's loss: every rank decides alike
      value = dist_->mean(value);
    if (!std::isfinite(value)) {
      setRngState(rngBefore);
      setDeviceRngState(deviceRngBefore);
      return Status::error(ErrorKind::TrainingDiverged, where() + ": the loss is " + describe(value) + findNonFinite(exec_, inputs, bf16_) +
                           kept() + "; lower the learning rate or check the inputs");
    }
    const bool last = a == spec_.accumulate - 1;
    if (sync_ && last)
      sync_->prepare();
    (spec_.accumulate > 1 ? loss / double(spec_.accumulate) : loss).backward();
    if (sync_ && last)
      sync_->finish();
    account(value, stepSum);
  }
  norm = gradientNorm(trainable_, spec_.clipGradNorm);
  if (!std::isfinite(norm))
    return badGradient(norm);
  opt_->step();
  params_.clamp();
  return Status::ok();
}

// A step as one replayed graph (CUDA), captured at the first such step.
// `replayed` false: the batch's shapes do not fit the graph; it is left in
// `pending` for the eager step.
Status TrainLoop::graphStep(bool &replayed, std::optional<Batch> &pending, double &stepSum, double &norm) {
  auto &g = cudaGraph_;
  Batch inputs = nextBatch();
  if (!g.captured) {
    for (const torch::Tensor &p : trainable_) // the captured backward allocates them
      p.mutable_grad().reset();
    g.coefficients = torch::zeros({opt_->groupCount(), 3}, torch::TensorOptions().device(device_));
    Status s = Status::ok();
    g.captured = accel_->capture(inputs, [&](const Batch &in) {
      {
        Autocast autocast(bf16_, device_.type(), /*cacheCasts=*/false);
        g.loss = exec_.run(in)[0];
      }
      g.loss.backward();
      g.norm = gradientNormTensor(trainable_, spec_.clipGradNorm);
      opt_->stepWith(g.coefficients);
      params_.clamp();
    }, s);
    if (!g.captured)
      return s.prefixed(where() + ": ");
    if (options_.progress)
      progress_->line("training steps run as one CUDA graph each from step " + std::to_string(st_.step + 1));
  }
  if (!g.captured->accepts(inputs)) {
    pending = std::move(inputs);
    return Status::ok();
  }
  g.coefficients.copy_(opt_->nextCoefficients());
  g.captured->replay(inputs);
  replayed = true;
  if (result_.graphFromStep == 0)
    result_.graphFromStep = st_.step + 1;
  const double value = g.loss.item<double>();
  if (!std::isfinite(value))
    return Status::error(ErrorKind::TrainingDiverged, where() + ": the loss is " + describe(value) +
                         " (in a CUDA graph step, whose update has already run; the parameters "
                         "in memory are not kept)" + kept() +
                         "; lower the learning rate or check the inputs (EXP_CUDA_GRAPHS=0 "
                         "names the op that computes it)");
  account(value, stepSum);
  norm = g.norm.item<double>();
  return std::isfinite(norm) ? Status::ok() : badGradient(norm);
}

// After a step: its record, the validation of the epochs that ended in it
// (once), early stopping, the report and the checkpoint.
Status TrainLoop::endStep(size_t reported, double lr, double stepSum, double norm) {
  double stepLoss = stepSum / double(spec_.accumulate);
  schedule_->observe(stepLoss);
  st_.stepLoss.push_back(stepLoss);
  st_.stepLr.push_back(lr);
  st_.stepGradNorm.push_back(norm);
  ++st_.step;
  if (!screen_.valSites.empty() && st_.valLoss.size() < st_.epochLoss.size()) {
    double v = validationLoss(validate_, features_, screen_, budget_.batch, bf16_);
    if (!std::isfinite(v))
      return Status::error(ErrorKind::TrainingDiverged, where() + ": the validation loss is " + describe(v) + kept());
    recordValidation(st_, v, spec_.earlyStopPatience, params_);
  }
  for (size_t e = reported; e < st_.epochLoss.size(); ++e) {
    char text[160], val[32] = "";
    if (e < st_.valLoss.size())
      std::snprintf(val, sizeof val, "  val %.4f", st_.valLoss[e]);
    std::snprintf(text, sizeof text, "epoch %3zu/%lld  loss %.4f%s  lr %.3g  %6.1fs", e + 1,
                  (long long)budget_.totalEpochs, st_.epochLoss[e], val, lr, progress_->elapsed());
    progress_->line(text);
  }
  if (st_.stopped) {
    char text[200];
    std::snprintf(text, sizeof text,
                  "early stop: no lower validation loss for %lld epochs; keeping epoch %lld's "
                  "parameters (validation loss %.4f)",
                  (long long)spec_.earlyStopPatience, (long long)st_.bestEpoch, st_.bestValLoss);
    progress_->line(text);
  }
  const int64_t perEpoch = budget_.batchesPerEpoch;
  progress_->step(st_.step, st_.batch / perEpoch + (st_.batch % perEpoch ? 1 : 0), budget_.totalEpochs, stepLoss);
  if (st_.step % budget_.checkpointEvery == 0 || st_.step == budget_.totalSteps || st_.stopped)
    if (Status s = saveCheckpoint(); !s)
      return Status::error(ErrorKind::CheckpointUnwritable,
                           "cannot write a checkpoint at step " + std::to_string(st_.step) + ": " + s.message() +
                           kept() + "; free space, then continue with `exp run --resume " + options_.runDir + "`");
  return Status::ok();
}

// The optimiser steps to the end of the budget, or an early stop.
Status TrainLoop::steps() {
  while (st_.step < budget_.totalSteps && !st_.stopped) {
    // The tests' way to lose a rank mid-run (EXP_KILL_RANK).
    if (dist_ && options_.hooks.killRank == budget_.rank && options_.hooks.killStep == st_.step + 1)
      std::raise(SIGKILL);
    const size_t reported = st_.epochLoss.size();
    const double lr = schedule_->lr(st_.step);
    opt_->setLr(lr);
    double stepSum = 0, norm = 0;
    std::optional<Batch> pending; // taken for a graph step that could not replay it
    bool replayed = false;
    if (cudaGraph_.enabled && st_.step >= cudaGraph_.captureAt)
      if (Status s = graphStep(replayed, pending, stepSum, norm); !s)
        return s;
    if (!replayed)
      if (Status s = eagerStep(pending, stepSum, norm); !s)
        return s;
    if (Status s = endStep(reported, lr, stepSum, norm); !s)
      return s;
  }
  return Status::ok();
}

// An exception inside a step: out of memory, or a lost rank, says which
// step and that the checkpoints stay; anything else is not ours to explain.
Status TrainLoop::lostStep(const std::exception &e) const {
  if (dynamic_cast<const OpFailure *>(&e))
    throw; // the plan's error, not a lost rank
  std::string oom = outOfMemory(e);
  if (oom.empty() && dist_) {
    // Gloo reports a rank that went away as an error in the next collective.
    std::string what = e.what();
    return Status::error(ErrorKind::TrainingRanks, where() + ": rank " + std::to_string(budget_.rank) + " of " +
                         std::to_string(budget_.world) + " lost the other ranks (" +
                         what.substr(0, what.find('\n')) + "); a rank stopped or its host is unreachable" +
                         kept());
  }
  if (oom.empty())
    throw;
  return Status::error(ErrorKind::OutOfMemory, where() + ": out of memory (" + oom + ")" + kept() + kOutOfMemoryAdvice);
}

void TrainLoop::finish() {
  if (st_.epochBatches > 0 && !st_.stopped) // a step budget that ends inside an epoch
    st_.epochLoss.push_back(st_.epochLossSum / double(st_.epochBatches));
  // Early stopping keeps the best epoch's parameters.
  if (!st_.best.empty()) {
    torch::NoGradGuard noGrad;
    for (const auto &[name, t] : st_.best)
      params_.get(name).copy_(t);
    result_.bestEpoch = st_.bestEpoch;
  }
  result_.valLoss = st_.valLoss;
  result_.stoppedEarly = st_.stopped;
  result_.epochLoss = st_.epochLoss;
  result_.stepLoss = st_.stepLoss;
  result_.stepLr = st_.stepLr;
  result_.stepGradNorm = st_.stepGradNorm;
  result_.steps = st_.step;
  result_.seconds = progress_->elapsed();
}

Status TrainLoop::run() {
  if (Status s = prepare(); !s)
    return s;
  if (Status s = resume(); !s)
    return s;
  progress_.emplace(options_.progress, options_.progressBar, budget_.totalSteps, st_.step,
                    budget_.batch * spec_.accumulate);
  trainable_ = params_.trainable();
  inject_ = {options_.hooks.nanStep, options_.hooks.nanOp};
  cudaGraph_.enabled = accel_ && spec_.accumulate == 1 && opt_->capturable() && !dist_ &&
                       inject_.first < 0 && options_.hooks.cudaGraphs;
  cudaGraph_.captureAt = st_.step + kEagerStepsBeforeCapture;
  if (dist_)
    sync_ = dist_->gradientSync(trainedBy(graph_, params_));
  try {
    if (Status s = steps(); !s)
      return s;
  } catch (const std::exception &e) {
    return lostStep(e);
  }
  finish();
  return Status::ok();
}

} // namespace

Status train(const Plan &plan, const Screen &screen, const FeatureStore &features, ParameterStore &params,
             const TrainOptions &options, TrainResult &result) {
  // On an accelerator the loop runs on a stream of its own (CUDA graphs
  // cannot capture the legacy default stream).
  const DeviceRuntime *accel = params.placement().runtime.get();
  std::shared_ptr<void> stream = accel ? accel->streamScope() : nullptr;
  return TrainLoop(plan, screen, features, params, options, result).run();
}

} // namespace exprt
