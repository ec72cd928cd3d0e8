// Data-parallel training on c10d, LibTorch's collective engine: a TCP store
// for the rendezvous, a Gloo process group for the collectives, and the
// gradient all-reduce in DistributedDataParallel's buckets (reduced as their
// gradients become ready, overlapping the rest of the backward). This header
// keeps c10d's out of the trainer and the kernels.
#pragma once

#include "exprt/Runtime.h"

#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

namespace exprt {

// Averages the gradients of a set of parameters across ranks.
class GradientSync {
public:
  virtual ~GradientSync() = default;
  // Call before the backward of a step's last micro-batch: that backward
  // then reduces the accumulated gradients across ranks as they become ready
  // (the earlier micro-batches accumulate locally, as DDP's no_sync).
  virtual void prepare() = 0;
  // Call after that backward: waits for the reductions; every parameter's
  // gradient is then the mean over ranks.
  virtual void finish() = 0;
};

// Whether this build can form the group `options` asks for: Gloo, or NCCL
// on CUDA devices; else the refusal naming EXP_WITH_GLOO.
Status collectiveFeatures(const SessionOptions &options);

class Collective {
public:
  // Joins the group `options` describes (rank, world size, rendezvous);
  // waits up to `options.timeoutSeconds` for the others.
  static std::shared_ptr<Collective> connect(const SessionOptions &options, Status &status);
  ~Collective();

  int rank() const;
  int size() const;

  // Every rank's rows of `local` (the same shape on each), concatenated in
  // rank order. Its gradient is torch.distributed.nn.all_gather's: the sum
  // over ranks of the gradient of this rank's rows, since every rank
  // computes the loss over the whole global batch.
  torch::Tensor gatherRows(const torch::Tensor &local) const;
  // The mean over ranks of `value` (a batch's loss), the same on every rank.
  double mean(double value) const;
  // Every rank's `tensors` become rank 0's, in place.
  void broadcastFromRoot(const std::vector<torch::Tensor> &tensors) const;
  // Waits for every rank.
  void barrier() const;
  // Rank 0 says it has done `key` (or failed at it) through the store; the
  // other ranks wait for that with no deadline but rank 0's life (preparing
  // a large dataset outlasts any collective's timeout).
  void announce(const std::string &key, bool ok) const;
  bool awaitAnnouncement(const std::string &key) const;
  // DDP's gradient averaging over `params`.
  std::unique_ptr<GradientSync> gradientSync(const std::vector<torch::Tensor> &params) const;

  struct Impl;

private:
  Collective();
  std::unique_ptr<Impl> impl_;
};

} // namespace exprt
