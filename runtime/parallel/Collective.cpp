#include "parallel/Collective.h"

#include "features/Switches.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#if EXP_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#ifdef EXP_WITH_NCCL
#include "parallel/NcclGroup.h"
#endif

namespace exprt {

struct Collective::Impl {
  int rank = 0, size = 1;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;       // Gloo: host tensors (and CUDA ones without NCCL)
  c10::intrusive_ptr<c10d::ProcessGroup> deviceGroup; // NCCL on a CUDA run; null otherwise
  // Without Gloo (EXP_WITH_GLOO off) `group` is the NCCL one, and host
  // scalars (a loss's mean) travel through this device.
  torch::Device hostStandIn = torch::kCPU;
  // The group for collectives over `t`.
  const c10::intrusive_ptr<c10d::ProcessGroup> &groupFor(const torch::Tensor &t) const {
    return t.is_cuda() && deviceGroup ? deviceGroup : group;
  }
};

namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Waits for `work`; c10d reports a peer that went away as an exception.
void wait(const c10::intrusive_ptr<c10d::Work> &work) { work->wait(); }

struct GatherRows : torch::autograd::Function<GatherRows> {
  static Tensor forward(AutogradContext *ctx, const Tensor &local, const Collective::Impl *c) {
    const Tensor in = local.contiguous();
    std::vector<std::vector<Tensor>> out(1);
    for (int r = 0; r < c->size; ++r)
      out[0].push_back(torch::empty_like(in));
    std::vector<Tensor> inputs{in};
    wait(c->groupFor(in)->allgather(out, inputs));
    ctx->saved_data["collective"] = reinterpret_cast<int64_t>(c);
    ctx->saved_data["rows"] = local.size(0);
    return torch::cat(out[0], 0);
  }
  static variable_list backward(AutogradContext *ctx, variable_list grads) {
    const auto *c = reinterpret_cast<const Collective::Impl *>(ctx->saved_data["collective"].toInt());
    const int64_t rows = ctx->saved_data["rows"].toInt();
    std::vector<Tensor> g{grads[0].contiguous().clone()};
    wait(c->groupFor(g[0])->allreduce(g));
    return {g[0].narrow(0, c->rank * rows, rows), Tensor()};
  }
};

// DDP's scheme (its Reducer, which Debian's headers cannot be compiled
// against: it includes the distributed-autograd headers they lack) on c10d's
// all-reduce: parameters in buckets of about 25 MB (the first 1 MB), in
// reverse order, the order gradients tend to arrive in. During a
// synchronised backward each parameter's gradient hook copies its total
// gradient (this backward's plus what earlier micro-batches accumulated)
// into its bucket; a full bucket starts its asynchronous all-reduce at once,
// overlapping the rest of the backward; `finish` waits for them and writes
// the averages back.
class BucketSync final : public GradientSync {
public:
  BucketSync(std::vector<Tensor> params, const Collective::Impl &c) : params_(std::move(params)), c_(c) {
    size_t bytes = 0, cap = size_t(1) << 20;
    for (size_t k = params_.size(); k-- > 0;) {
      const Tensor &p = params_[k];
      const size_t b = size_t(p.numel()) * p.element_size();
      if (buckets_.empty() || (bytes + b > cap && !buckets_.back().members.empty()) ||
          buckets_.back().flat.defined()) {
        if (!buckets_.empty())
          finishLayout(buckets_.back());
        buckets_.emplace_back();
        bytes = 0;
        cap = buckets_.size() == 1 ? (size_t(1) << 20) : (size_t(25) << 20);
      }
      buckets_.back().members.push_back(k);
      bytes += b;
    }
    if (!buckets_.empty())
      finishLayout(buckets_.back());
    slot_.resize(params_.size());
    for (size_t b = 0; b < buckets_.size(); ++b)
      for (size_t i = 0; i < buckets_[b].members.size(); ++i)
        slot_[buckets_[b].members[i]] = {b, i};
    for (size_t k = 0; k < params_.size(); ++k)
      hooks_.push_back(params_[k].register_hook([this, k](Tensor g) { return arrived(k, g); }));
  }
  ~BucketSync() override {
    for (size_t k = 0; k < params_.size(); ++k)
      params_[k].remove_hook(hooks_[k]);
  }

  void prepare() override {
    for (Bucket &b : buckets_) {
      b.ready = 0;
      b.work.reset();
    }
    armed_ = true;
  }

  void finish() override {
    if (!armed_)
      return;
    armed_ = false;
    torch::NoGradGuard noGrad;
    for (Bucket &b : buckets_) {
      if (!b.work) { // a parameter got no gradient: the same on every rank
        for (size_t i = 0; i < b.members.size(); ++i)
          if (!b.arrived[i])
            b.flat.narrow(0, b.offset[i], params_[b.members[i]].numel()).zero_();
        start(b);
      }
      wait(b.work);
      b.flat.div_(double(c_.size));
      for (size_t i = 0; i < b.members.size(); ++i) {
        Tensor p = params_[b.members[i]];
        if (!b.arrived[i])
          continue;
        Tensor avg = b.flat.narrow(0, b.offset[i], p.numel()).view(p.sizes());
        if (p.grad().defined())
          p.mutable_grad().copy_(avg);
        else
          p.mutable_grad() = avg.clone();
      }
    }
  }

private:
  struct Bucket {
    std::vector<size_t> members; // parameter indices
    std::vector<int64_t> offset; // of each member in `flat`
    std::vector<bool> arrived;
    Tensor flat;
    size_t ready = 0;
    c10::intrusive_ptr<c10d::Work> work;
  };

  void finishLayout(Bucket &b) {
    int64_t n = 0;
    for (size_t k : b.members) {
      b.offset.push_back(n);
      n += params_[k].numel();
    }
    b.arrived.assign(b.members.size(), false);
    b.flat = torch::zeros({n}, params_[b.members[0]].options().requires_grad(false));
  }

  void start(Bucket &b) {
    std::vector<Tensor> t{b.flat};
    b.work = c_.groupFor(b.flat)->allreduce(t);
  }

  // The hook of parameter k: `g` is this backward's gradient, before it is
  // accumulated. The bucket takes the total; the parameter's accumulated
  // part is dropped so that accumulation leaves exactly the total there
  // (and `finish` replaces it with the average).
  Tensor arrived(size_t k, const Tensor &g) {
    if (!armed_)
      return g;
    torch::NoGradGuard noGrad;
    Tensor p = params_[k];
    Tensor total = p.grad().defined() ? g + p.grad() : g;
    if (p.grad().defined())
      p.mutable_grad().reset();
    auto [bi, i] = slot_[k];
    Bucket &b = buckets_[bi];
    b.flat.narrow(0, b.offset[i], p.numel()).copy_(total.reshape({-1}));
    if (!b.arrived[i]) {
      b.arrived[i] = true;
      if (++b.ready == b.members.size())
        start(b);
    }
    return total;
  }

  std::vector<Tensor> params_;
  const Collective::Impl &c_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<size_t, size_t>> slot_; // parameter -> (bucket, member)
  std::vector<unsigned> hooks_;
  bool armed_ = false;
};

} // namespace

Collective::Collective() : impl_(std::make_unique<Impl>()) {}
Collective::~Collective() = default;

Status collectiveFeatures(const SessionOptions &o) {
  if (built(BuildFeature::Gloo))
    return Status::ok();
#ifdef EXP_WITH_NCCL
  if (o.device != "cpu")
    return Status::ok();
#endif
  return missingFeature(BuildFeature::Gloo, "a data-parallel run on `" + o.device + "` (" + std::to_string(o.worldSize) +
                                                (o.worldSize == 1 ? " rank)" : " ranks)"));
}

std::shared_ptr<Collective> Collective::connect(const SessionOptions &o, Status &status) {
  if (status = collectiveFeatures(o); !status)
    return nullptr;
  std::shared_ptr<Collective> c(new Collective());
  Impl &m = *c->impl_;
  m.rank = o.rank;
  m.size = o.worldSize;
  const auto timeout = std::chrono::milliseconds(int64_t(o.timeoutSeconds) * 1000);
  const std::string where = o.masterAddr + ":" + std::to_string(o.masterPort);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(o.masterPort);
    so.isServer = o.rank == 0;
    so.numWorkers = static_cast<std::size_t>(o.worldSize);
    so.waitWorkers = true;
    so.timeout = timeout;
    m.store = c10::make_intrusive<c10d::TCPStore>(o.masterAddr, so);
#if EXP_WITH_GLOO
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    // Connections go over the interface that reaches rank 0.
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(o.masterAddr));
    auto gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("gloo", m.store), o.rank, o.worldSize, options);
#if TORCH_VERSION_MAJOR >= 2
    // LibTorch 2 splits process groups from their backends.
    m.group = c10::make_intrusive<c10d::ProcessGroup>(m.store, o.rank, o.worldSize);
    m.group->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
    m.group->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, gloo);
    m.group->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::GLOO, gloo);
#else
    m.group = gloo;
#endif
#endif
#ifdef EXP_WITH_NCCL
    // GPU tensors go through NCCL (EXP_DIST_BACKEND=gloo: through Gloo, for comparisons).
    if (o.device != "cpu" && (o.hooks.ncclForDevices || !built(BuildFeature::Gloo)))
      m.deviceGroup = makeNcclGroup(c10::make_intrusive<c10d::PrefixStore>("nccl", m.store), o.rank,
                                    o.worldSize, timeout);
#endif
    if (!m.group) { // no Gloo: everything through NCCL (collectiveFeatures checked it is there)
      m.group = m.deviceGroup;
      m.hostStandIn = torch::Device(o.device == "cuda" ? "cuda:" + std::to_string(o.localRank) : o.device);
    }
  } catch (const std::exception &e) {
    std::string what = e.what();
    status = Status::error(ErrorKind::TrainingRanks, "rank " + std::to_string(o.rank) + " of " + std::to_string(o.worldSize) +
                           " could not join the group at " + where + ": " + what.substr(0, what.find('\n')));
    return nullptr;
  }
  status = Status::ok();
  return c;
}

int Collective::rank() const { return impl_->rank; }
int Collective::size() const { return impl_->size; }

Tensor Collective::gatherRows(const Tensor &local) const { return GatherRows::apply(local, impl_.get()); }

double Collective::mean(double value) const {
  std::vector<Tensor> t{torch::tensor({value}, torch::kFloat64).to(impl_->hostStandIn)};
  wait(impl_->group->allreduce(t));
  return t[0].item<double>() / impl_->size;
}

void Collective::broadcastFromRoot(const std::vector<Tensor> &tensors) const {
  torch::NoGradGuard noGrad;
  for (const Tensor &t : tensors) {
    std::vector<Tensor> one{t.detach()};
    wait(impl_->groupFor(t)->broadcast(one));
  }
}

void Collective::barrier() const { wait(impl_->group->barrier()); }

void Collective::announce(const std::string &key, bool ok) const {
  impl_->store->set("exp/" + key, std::vector<uint8_t>{uint8_t(ok ? 1 : 0)});
}

bool Collective::awaitAnnouncement(const std::string &key) const {
  impl_->store->wait({"exp/" + key}, std::chrono::hours(24 * 7));
  const std::vector<uint8_t> v = impl_->store->get("exp/" + key);
  return !v.empty() && v[0] == 1;
}

std::unique_ptr<GradientSync> Collective::gradientSync(const std::vector<Tensor> &params) const {
  return std::make_unique<BucketSync>(params, *impl_);
}

} // namespace exprt
