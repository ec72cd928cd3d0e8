#include "train/Trainer.h"

#include "data/Augment.h"
#include "data/Prefetch.h"
#include "data/Random.h"
#include "dist/Collective.h"
#include "exec/Autocast.h"
#include "exec/Faults.h"
#include "train/Checkpoint.h"
#include "train/GradNorm.h"
#include "train/Optimizer.h"
#include "train/Progress.h"
#include "train/Schedule.h"

#include <torch/torch.h>

#ifdef EXP_WITH_CUDA
#include "gpu/CudaRuntime.h"
#endif

#include <cmath>
#include <csignal>
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

#ifdef EXP_WITH_CUDA
// Eager steps before the step is captured as a CUDA graph.
constexpr int64_t kEagerStepsBeforeCapture = 3;
#endif

// EXP_INJECT_NAN=STEP:OP makes op OP of the training graph compute NaN at
// optimiser step STEP (1-based): the tests' way to exercise fault handling.
std::pair<int64_t, int64_t> nanInjection() {
  const char *v = std::getenv("EXP_INJECT_NAN");
  long long step = -1, op = -1;
  if (v && std::sscanf(v, "%lld:%lld", &step, &op) == 2)
    return {step, op};
  return {-1, -1};
}

// EXP_KILL_RANK=RANK:STEP kills rank RANK of a data-parallel run (SIGKILL)
// as optimiser step STEP begins: the tests' way to lose a rank mid-run.
bool killedHere(int rank, int64_t step) {
  const char *v = std::getenv("EXP_KILL_RANK");
  long long r = -1, s = -1;
  return v && std::sscanf(v, "%lld:%lld", &r, &s) == 2 && r == rank && s == step;
}

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

} // namespace

Status train(const Plan &plan, const Screen &screen, const FeatureStore &features,
             ParameterStore &params, const TrainOptions &options, TrainResult &result) {
  const TrainSpec &spec = plan.train;
  const Graph &graph = plan.graphs.at(spec.graph);
  for (const GraphInput &in : graph.inputs)
    if (in.features.empty() && !screen.hasColumn(in.column))
      return Status::error("training graph reads column `" + in.column +
                           "`, which the dataset does not have");
  std::unique_ptr<TrainOptimizer> opt;
  if (Status s = TrainOptimizer::create(spec, params, opt); !s)
    return s;
  const torch::Device device = params.device();
#ifdef EXP_WITH_CUDA
  // On a CUDA device the loop runs on a stream of its own (CUDA graphs
  // cannot capture the legacy default stream).
  std::optional<gpu::StreamScope> stream;
  if (device.is_cuda())
    stream.emplace(device);
#endif
  GraphExecutor exec(graph, params);
  GraphExecutor validate(graph, params);
  validate.setInference(true);
  const bool validating = !screen.valSites.empty();
  const bool bf16 = spec.precision == "bf16";
  at::globalContext().setDeterministicAlgorithms(spec.deterministic, /*warn_only=*/true);

  std::vector<int64_t> order = screen.trainSites;
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t batch = std::min<int64_t>(spec.batch, n);
  // Data parallelism: `batch` is the global batch; each rank takes its
  // contiguous share of every global batch, in the same global order.
  const Collective *dist = params.placement().collective.get();
  const int world = dist ? dist->size() : 1, rank = dist ? dist->rank() : 0;
  if (batch % world != 0)
    return Status::error("training `" + spec.name + "`: the global batch (" + std::to_string(batch) +
                         ") is not a multiple of the " + std::to_string(world) +
                         " ranks; choose a batch or a process count that divides it");
  const int64_t share = batch / world;
  // Contrastive losses need full batches; drop the remainder (like drop_last).
  const int64_t batchesPerEpoch = std::max<int64_t>(1, n / batch);
  const int64_t totalSteps =
      spec.steps > 0 ? spec.steps
                     : std::max<int64_t>(1, spec.epochs * batchesPerEpoch / spec.accumulate);
  const int64_t totalEpochs =
      (totalSteps * spec.accumulate + batchesPerEpoch - 1) / batchesPerEpoch;
  const int64_t checkpointEvery = options.checkpointEvery > 0
                                      ? options.checkpointEvery
                                      : std::max<int64_t>(1, batchesPerEpoch / spec.accumulate);
  std::unique_ptr<Schedule> schedule;
  if (Status s = Schedule::create(spec, opt->baseLr(), totalSteps, schedule); !s)
    return s;

  std::mt19937_64 rng(static_cast<uint64_t>(spec.seed) * 0x9E3779B97F4A7C15ull + 1);
  TrainState st;
  if (options.resume && !options.runDir.empty()) {
    if (std::string ckpt = latestCheckpoint(options.runDir); !ckpt.empty()) {
      if (Status s = readCheckpoint(ckpt, plan.sha256, params, *opt, *schedule, st); !s)
        return s;
      std::istringstream(st.shuffleRng) >> rng;
      setRngState(st.torchRng);
#ifdef EXP_WITH_CUDA
      if (device.is_cuda() && st.deviceRng.defined())
        gpu::setRngState(device, st.deviceRng);
#endif
      if (st.order.numel() != n || (n > 0 && (st.order.min().item<int64_t>() < 0 ||
                                               st.order.max().item<int64_t>() >= screen.perturbation.size(0))))
        return Status::error(ckpt + ": its `loader/order` does not hold the " + std::to_string(n) +
                             " training rows of this dataset");
      order.assign(st.order.data_ptr<int64_t>(), st.order.data_ptr<int64_t>() + n);
      if (options.progress)
        std::fprintf(stderr, "resuming from %s (step %lld of %lld)\n", ckpt.c_str(),
                     (long long)st.step, (long long)totalSteps);
    }
  }
  auto save = [&]() -> Status {
    if (options.runDir.empty() || rank != 0) // every rank holds the same state
      return Status::ok();
    std::ostringstream r;
    r << rng;
    st.shuffleRng = r.str();
    st.torchRng = rngState();
#ifdef EXP_WITH_CUDA
    if (device.is_cuda())
      st.deviceRng = gpu::rngState(device);
#endif
    st.order = torch::tensor(order, torch::kInt64);
    return writeCheckpoint(options.runDir, plan.sha256, params, *opt, *schedule, st);
  };

  Progress progress(options.progress, options.progressBar, totalSteps, st.step,
                    batch * spec.accumulate);
  auto where = [&]() {
    return "training `" + spec.name + "` stopped at step " + std::to_string(st.step + 1) +
           " (epoch " + std::to_string(st.batch / batchesPerEpoch + 1) + ", batch " +
           std::to_string(st.batch % batchesPerEpoch + 1) + ")";
  };
  auto kept = [&]() {
    std::string last = options.runDir.empty() ? "" : latestCheckpoint(options.runDir);
    return last.empty() ? std::string("")
                        : "; the last good checkpoint is kept in " + last;
  };
  // Batch b of the run: rows of the current epoch's order (built ahead on
  // worker threads, never past the epoch's end, as the order is reshuffled there).
  auto makeBatch = [&](int64_t b) -> Batch {
    int64_t pos = b % batchesPerEpoch;
    const int64_t first = pos * batch + rank * share;
    torch::Tensor idx = torch::tensor(
        std::vector<int64_t>(order.begin() + first, order.begin() + first + share), torch::kInt64);
    Batch inputs = features.inputs(graph, screen, idx, batchSeed(spec.seed, b, "pairs"));
#ifdef EXP_WITH_CUDA
    if (device.is_cuda()) {
      // Copied from pinned memory and augmented on the GPU, on this
      // worker's copy stream (the same draws as on the CPU).
      gpu::onCopyStream(device, [&] {
        for (auto &entry : inputs)
          entry.second = gpu::pinnedToDevice(entry.second, device);
        augmentBatch(inputs, graph, plan.augment, spec.seed, b);
      });
      return inputs;
    }
#endif
    augmentBatch(inputs, graph, plan.augment, spec.seed, b);
    return inputs;
  };
  const int64_t lastBatch = totalSteps * spec.accumulate - 1;
  BatchPrefetcher prefetcher(options.dataWorkers, /*depth=*/2 * options.dataWorkers);
  const std::vector<torch::Tensor> trainable = params.trainable();
  const auto [injectStep, injectOp] = nanInjection();
  // The run's next batch, on its device.
  auto nextBatch = [&]() {
    int64_t pos = st.batch % batchesPerEpoch;
    if (pos == 0)
      std::shuffle(order.begin(), order.end(), rng);
    Batch inputs = prefetcher.take(st.batch, std::min(lastBatch, st.batch - pos + batchesPerEpoch - 1),
                                   makeBatch);
#ifdef EXP_WITH_CUDA
    for (const auto &entry : inputs) // allocated on a worker's copy stream
      gpu::useOnCurrentStream(entry.second);
#endif
    return inputs;
  };
  // Counts one batch's loss into its step's and its epoch's.
  auto account = [&](double value, double &stepSum) {
    stepSum += value;
    st.epochLossSum += value;
    ++st.epochBatches;
    ++st.batch;
    if (st.batch % batchesPerEpoch == 0) {
      st.epochLoss.push_back(st.epochLossSum / double(st.epochBatches));
      st.epochLossSum = 0;
      st.epochBatches = 0;
    }
  };
  auto badGradient = [&](double norm) {
    for (const ParameterSpec &s : params.specs()) {
      torch::Tensor g = params.get(s.name).grad();
      if (g.defined() && !torch::isfinite(g).all().item<bool>())
        return Status::error(where() + ": the gradient of parameter `" + s.name + "`" +
                             readerOf(graph, s.name) + " is not finite" + kept() +
                             "; lower the learning rate or clip gradients (clip_grad_norm)");
    }
    return Status::error(where() + ": the gradient norm is " + describe(norm) + kept());
  };
#ifdef EXP_WITH_CUDA
  // Whole-step CUDA graphs (gpu/CudaGraphStep.cpp): AdamW, one batch per
  // step, captured after a few eager steps (which create the optimiser's
  // state and warm up the allocator and cuBLAS). EXP_CUDA_GRAPHS=0 turns
  // them off.
  const char *graphsEnv = std::getenv("EXP_CUDA_GRAPHS");
  const bool graphs = device.is_cuda() && spec.accumulate == 1 && opt->capturable() && !dist &&
                      injectStep < 0 && !(graphsEnv && std::string(graphsEnv) == "0");
  const int64_t captureAt = st.step + kEagerStepsBeforeCapture;
  std::unique_ptr<gpu::CapturedStep> captured;
  torch::Tensor graphLoss, graphNorm, graphCoefficients;
#endif
  // DDP's gradient averaging, overlapped with the backward of each step's last micro-batch.
  std::unique_ptr<GradientSync> sync;
  if (dist)
    sync = dist->gradientSync(trainedBy(graph, params));
  // Out of memory inside a step: say which step, and that the checkpoints stay.
  try {
    while (st.step < totalSteps && !st.stopped) {
      if (dist && killedHere(rank, st.step + 1))
        std::raise(SIGKILL);
      const size_t reported = st.epochLoss.size();
      double lr = schedule->lr(st.step);
      opt->setLr(lr);
      double stepSum = 0, norm = 0;
      std::optional<Batch> pending; // taken for a graph step that could not replay it
      bool replayed = false;
#ifdef EXP_WITH_CUDA
      if (graphs && st.step >= captureAt) {
        Batch inputs = nextBatch();
        if (!captured) {
          for (const torch::Tensor &p : trainable) // the captured backward allocates them
            p.mutable_grad().reset();
          graphCoefficients = torch::zeros({opt->groupCount(), 3}, torch::TensorOptions().device(device));
          Status s = Status::ok();
          captured = gpu::CapturedStep::capture(device, inputs, [&](const Batch &in) {
            {
              Autocast autocast(bf16, device.type(), /*cacheCasts=*/false);
              graphLoss = exec.run(in)[0];
            }
            graphLoss.backward();
            graphNorm = gradientNormTensor(trainable, spec.clipGradNorm);
            opt->stepWith(graphCoefficients);
            params.clamp();
          }, s);
          if (!captured)
            return Status::error(where() + ": " + s.message());
          if (options.progress)
            progress.line("training steps run as one CUDA graph each from step " + std::to_string(st.step + 1));
        }
        if (captured->accepts(inputs)) {
          graphCoefficients.copy_(opt->nextCoefficients());
          captured->replay(inputs);
          replayed = true;
          if (result.graphFromStep == 0)
            result.graphFromStep = st.step + 1;
          const double value = graphLoss.item<double>();
          if (!std::isfinite(value))
            return Status::error(where() + ": the loss is " + describe(value) +
                                 " (in a CUDA graph step, whose update has already run; the parameters "
                                 "in memory are not kept)" + kept() +
                                 "; lower the learning rate or check the inputs (EXP_CUDA_GRAPHS=0 "
                                 "names the op that computes it)");
          account(value, stepSum);
          norm = graphNorm.item<double>();
          if (!std::isfinite(norm))
            return badGradient(norm);
        } else {
          pending = std::move(inputs);
        }
      }
#endif
      if (!replayed) {
        exec.injectNaN(st.step + 1 == injectStep ? injectOp : -1);
        opt->zeroGrad();
        for (int64_t a = 0; a < spec.accumulate; ++a) {
          Batch inputs = a == 0 && pending ? std::move(*pending) : nextBatch();
          torch::Tensor rngBefore = rngState();
#ifdef EXP_WITH_CUDA
          torch::Tensor deviceRngBefore = device.is_cuda() ? gpu::rngState(device) : torch::Tensor();
#endif
          torch::Tensor loss;
          {
            Autocast autocast(bf16, device.type());
            loss = exec.run(inputs)[0];
          }
          double value = loss.item<double>();
          if (dist) // the global batch's loss: every rank decides alike
            value = dist->mean(value);
          if (!std::isfinite(value)) {
            setRngState(rngBefore);
#ifdef EXP_WITH_CUDA
            if (deviceRngBefore.defined())
              gpu::setRngState(device, deviceRngBefore);
#endif
            return Status::error(where() + ": the loss is " + describe(value) +
                                 findNonFinite(exec, inputs, bf16) + kept() +
                                 "; lower the learning rate or check the inputs");
          }
          if (sync && a == spec.accumulate - 1)
            sync->prepare();
          (spec.accumulate > 1 ? loss / double(spec.accumulate) : loss).backward();
          if (sync && a == spec.accumulate - 1)
            sync->finish();
          account(value, stepSum);
        }
        norm = gradientNorm(trainable, spec.clipGradNorm);
        if (!std::isfinite(norm))
          return badGradient(norm);
        opt->step();
        params.clamp();
      }
      double stepLoss = stepSum / double(spec.accumulate);
      schedule->observe(stepLoss);
      st.stepLoss.push_back(stepLoss);
      st.stepLr.push_back(lr);
      st.stepGradNorm.push_back(norm);
      ++st.step;
      // Epochs that ended in this step: validate (once), maybe stop, report.
      if (validating && st.valLoss.size() < st.epochLoss.size()) {
        double v = validationLoss(validate, features, screen, batch, bf16);
        if (!std::isfinite(v))
          return Status::error(where() + ": the validation loss is " + describe(v) + kept());
        recordValidation(st, v, spec.earlyStopPatience, params);
      }
      for (size_t e = reported; e < st.epochLoss.size(); ++e) {
        char text[160], val[32] = "";
        if (e < st.valLoss.size())
          std::snprintf(val, sizeof val, "  val %.4f", st.valLoss[e]);
        std::snprintf(text, sizeof text, "epoch %3zu/%lld  loss %.4f%s  lr %.3g  %6.1fs", e + 1,
                      (long long)totalEpochs, st.epochLoss[e], val, lr, progress.elapsed());
        progress.line(text);
      }
      if (st.stopped) {
        char text[200];
        std::snprintf(text, sizeof text,
                      "early stop: no lower validation loss for %lld epochs; keeping epoch %lld's "
                      "parameters (validation loss %.4f)",
                      (long long)spec.earlyStopPatience, (long long)st.bestEpoch, st.bestValLoss);
        progress.line(text);
      }
      progress.step(st.step, st.batch / batchesPerEpoch + (st.batch % batchesPerEpoch ? 1 : 0),
                    totalEpochs, stepLoss);
      if (st.step % checkpointEvery == 0 || st.step == totalSteps || st.stopped)
        if (Status s = save(); !s)
          return Status::error("cannot write a checkpoint at step " + std::to_string(st.step) +
                               ": " + s.message() + kept() + "; free space, then continue with `exp run --resume " +
                               options.runDir + "`");
    }
  } catch (const std::exception &e) {
    std::string oom = outOfMemory(e);
    if (oom.empty() && dist) {
      // Gloo reports a rank that went away as an error in the next collective.
      std::string what = e.what();
      return Status::error(where() + ": rank " + std::to_string(rank) + " of " + std::to_string(world) +
                           " lost the other ranks (" + what.substr(0, what.find('\n')) +
                           "); a rank stopped or its host is unreachable" + kept());
    }
    if (oom.empty())
      throw;
    return Status::error(where() + ": out of memory (" + oom + ")" + kept() + kOutOfMemoryAdvice);
  }
  if (st.epochBatches > 0 && !st.stopped) // a step budget that ends inside an epoch
    st.epochLoss.push_back(st.epochLossSum / double(st.epochBatches));
  // Early stopping keeps the best epoch's parameters.
  if (!st.best.empty()) {
    torch::NoGradGuard noGrad;
    for (const auto &[name, t] : st.best)
      params.get(name).copy_(t);
    result.bestEpoch = st.bestEpoch;
  }
  result.valLoss = st.valLoss;
  result.stoppedEarly = st.stopped;
  result.epochLoss = st.epochLoss;
  result.stepLoss = st.stepLoss;
  result.stepLr = st.stepLr;
  result.stepGradNorm = st.stepGradNorm;
  result.steps = st.step;
  result.seconds = progress.elapsed();
  return Status::ok();
}

} // namespace exprt
