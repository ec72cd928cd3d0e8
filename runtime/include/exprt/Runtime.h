// The exp runtime's whole public API: create a session for a device, load a
// plan, run it (train, then evaluate), read the results, release.
//
// The runtime links LibTorch and the readers of raw formats (docs/dependencies.md),
// and nothing of the compiler; this header includes none of them, so clients
// build without them. A client may link libexp_runtime.so, or load it on
// demand through `exprt_api()` below (`exp` does, so that `check`, `fmt` and
// `compile` start without LibTorch).
#pragma once

#include "exprt/Status.h"

#include <cstdint>
#include <memory>
#include <string>

namespace exprt {

// Whether this runtime can run on `device` (`cpu`, `cuda`, `cuda:N`); the
// error says why not (a CPU-only LibTorch, no such GPU).
Status checkDevice(const std::string &device);

// Hooks for tests and A/B comparisons, set from the environment by
// readTestHooks (the runtime reads no environment variable of its own).
struct TestHooks {
  int64_t nanStep = -1, nanOp = -1;         // EXP_INJECT_NAN=STEP:OP: op OP computes NaN at step STEP
  int killRank = -1;                        // EXP_KILL_RANK=RANK:STEP: SIGKILL rank RANK
  int64_t killStep = -1;                    //   as optimiser step STEP begins
  bool cudaGraphs = true;                   // EXP_CUDA_GRAPHS=0: every step eager
  bool generatedKernels = true;             // EXP_GENERATED_KERNELS=0: every group op by op
  bool ncclForDevices = true;               // EXP_DIST_BACKEND=gloo: GPU tensors through Gloo
  bool groupOfOne = false;                  // EXP_DIST_GROUP_OF_ONE=1: one rank still forms its group
                                            //   (the GPU kit's one-GPU NCCL check, scripts/gpu/)
};

struct SessionOptions {
  std::string device = "cpu";
  int threads = 0;        // 0: one per core
  bool progress = true;   // per-epoch lines on stderr
  // With `progress`: a bar with ETA and throughput, redrawn in place; for a
  // terminal (`exp run` sets it when stderr is one), not for logs and pipes.
  bool progressBar = false;
  // Where precomputed features are cached by content hash ("" = not on disk).
  std::string featureCacheDir;
  // Where simulated screens and packed images are kept ("" = not on disk).
  std::string dataCacheDir;
  // The run directory: training checkpoints go under `runDir`/checkpoints
  // ("" = none are written).
  std::string runDir;
  // Optimiser steps between checkpoints; 0: one per epoch.
  long long checkpointEvery = 0;
  // Continue training from the newest checkpoint under `runDir`. In
  // deterministic mode on the CPU, with the same threads, the run then ends
  // with the same metrics, bit for bit, as one that was never interrupted.
  bool resume = false;
  // Threads that build training batches (gather rows, augment images) ahead
  // of the step; 0 builds them in the training thread. Metrics do not
  // depend on it.
  int dataWorkers = 1;
  // Data-parallel training (docs/scaling.md): this process is rank `rank` of
  // `worldSize`, meeting the others at masterAddr:masterPort (c10d's TCP
  // store, Gloo). Each rank trains on its share of every global batch
  // (`batch` in the spec is the global batch); rank 0 alone writes
  // checkpoints and evaluates. A rank that stops makes the others fail
  // within `timeoutSeconds`.
  int rank = 0, worldSize = 1;
  int localRank = 0; // on its node: device `cuda` means cuda:localRank in a data-parallel run
  std::string masterAddr = "127.0.0.1";
  int masterPort = 29500;
  int timeoutSeconds = 300;
  TestHooks hooks;
};

// Fills `hooks` from EXP_INJECT_NAN, EXP_KILL_RANK, EXP_CUDA_GRAPHS,
// EXP_GENERATED_KERNELS, EXP_DIST_BACKEND and EXP_DIST_GROUP_OF_ONE (unset:
// the defaults).
void readTestHooks(TestHooks &hooks);

// Fills the rank, world size and rendezvous of `options` from a launcher's
// environment: torchrun's (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT), which `exp run --nproc` also sets, else Slurm's
// (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID; MASTER_ADDR or the first host
// of SLURM_JOB_NODELIST).
// `source` names the launcher ("" when none: one process). Malformed or
// inconsistent values are an error naming the variable.
Status readLaunchEnvironment(SessionOptions &options, std::string &source);

// The methods are virtual so that a client which loaded the runtime with
// dlopen calls them through the object, without linking their symbols.
class Session {
public:
  static std::unique_ptr<Session> create(const SessionOptions &options, Status &status);
  virtual ~Session();

  // Loads a plan artifact (JSON text); `origin` names it in error messages.
  virtual Status loadPlan(const std::string &planJson, const std::string &origin);
  virtual Status loadPlanFile(const std::string &path);

  // Trains, then evaluates; metrics are then available as JSON. A failure
  // during training keeps the checkpoints written before it.
  virtual Status run();

  // The metrics of the last run as a JSON document (see docs/artifact.md).
  virtual std::string metricsJson() const;
  // A short human-readable table of the final metrics.
  virtual std::string metricsSummary() const;
  // Writes metrics.json into `dir` atomically (temporary file, then rename).
  virtual Status writeRecord(const std::string &dir) const;
  // The newest checkpoint under the run directory ("" when none).
  virtual std::string latestCheckpoint() const;

private:
  Session();
  Status runUnchecked();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The runtime's version and the plan format version it accepts.
const char *runtimeVersion();
int planFormatVersion();

// Writes the simulated screen of a compiled plan (`planJson`; its dataset
// must be a `simulated_screen`) into `dir` in the on-disk layout its
// `format` names (RxRx1's or JUMP's), with its ground truth (docs/data.md). `dir` must not exist yet; it is written
// under a temporary name and renamed.
Status writeSimulatedScreenFiles(const std::string &planJson, const std::string &dir);

// `exp eval`: runs a profile evaluation plan (expc::profileEvalPlan's JSON)
// with `threads` (0: one per core) and writes `dir`: metrics.json, one
// NAME_groups.csv per replicate_map (each perturbation's mAP and corrected
// p) and report.html. `dir` must not exist; nothing is left on failure.
// `summary`: the scores, one per line, for the terminal.
Status writeProfileEvaluation(const std::string &planJson, const std::string &dir, uint64_t seed,
                              int threads, std::string &summary);

// What this process runs on, as JSON: runtime, plan format and LibTorch
// versions, CPU model and cores, memory, threads (after Session::create sets
// them), CUDA, OS and host (docs/artifact.md, "Run record").
std::string environmentJson();

// The API above as one table, for a client that loads the runtime on demand
// (dlopen + dlsym("exprt_api")) instead of linking it. `abi` and `size` let
// the client refuse a library built from other sources.
struct Api {
  static constexpr uint32_t kAbi = 3; // bump when a member, Status or SessionOptions changes
  uint32_t abi = kAbi;
  uint32_t size = sizeof(Api);
  const char *(*runtimeVersion)();
  int (*planFormatVersion)();
  Status (*checkDevice)(const std::string &device);
  Status (*readLaunchEnvironment)(SessionOptions &options, std::string &source);
  void (*readTestHooks)(TestHooks &hooks);
  std::unique_ptr<Session> (*createSession)(const SessionOptions &options, Status &status);
  Status (*writeSimulatedScreenFiles)(const std::string &planJson, const std::string &dir);
  Status (*writeProfileEvaluation)(const std::string &planJson, const std::string &dir, uint64_t seed,
                                   int threads, std::string &summary);
  std::string (*environmentJson)();
};

} // namespace exprt

// The table, filled with this library's functions.
extern "C" const exprt::Api *exprt_api();
