#include "exec/Kernels.h"

#include "parallel/Collective.h"
#include "exec/Autocast.h"
#include "losses/FusedLosses.h"
#include "exec/GraphExecutor.h"
#include "exec/HandCrafted.h"
#include "losses/Objectives.h"

#include "contract/StepOps.h"

#include <torch/torch.h>

namespace exprt {
namespace {

namespace F = torch::nn::functional;
using T = torch::Tensor;
using In = std::vector<T>;

T param(const In &, const OpAttrs &a, ParameterStore &p) { return p.get(a.parameter); }
T constant(const In &, const OpAttrs &a, ParameterStore &p) {
  // On the run's device, so a generated kernel can read it with the group's other operands.
  return torch::scalar_tensor(a.value, torch::TensorOptions().dtype(torch::kFloat32).device(p.device()));
}
// A rank-0 bias operand stands for none.
T biasOrNone(const T &b) { return b.dim() == 0 ? T() : b; }
// Image ops take (..., C, H, W): leading dimensions beyond the batch (bags of
// sites, channels encoded separately) are folded into it and restored.
template <typename Fn> T overImages(const T &x, Fn fn) {
  if (x.dim() == 4)
    return fn(x);
  T y = fn(x.reshape({-1, x.size(-3), x.size(-2), x.size(-1)}));
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end() - 3);
  shape.insert(shape.end(), y.sizes().begin() + 1, y.sizes().end());
  return y.reshape(shape);
}
T conv2d(const In &x, const OpAttrs &a, ParameterStore &) {
  return overImages(x[0], [&](const T &v) {
    return torch::conv2d(v, x[1], biasOrNone(x[2]), a.stride, a.padding);
  });
}
T relu(const In &x, const OpAttrs &, ParameterStore &) { return torch::relu(x[0]); }
T maxPool2d(const In &x, const OpAttrs &a, ParameterStore &) {
  return overImages(x[0], [&](const T &v) { return torch::max_pool2d(v, a.kernel, a.stride, a.padding); });
}
T avgPool2d(const In &x, const OpAttrs &a, ParameterStore &) {
  return overImages(x[0], [&](const T &v) { return torch::avg_pool2d(v, a.kernel, a.stride); });
}
// Running statistics are frozen parameters that batch_norm updates in place
// while training (they never require gradients).
T batchNorm(const In &x, const OpAttrs &a, ParameterStore &) {
  return overImages(x[0], [&](const T &v) {
    return torch::batch_norm(v, x[1], x[2], x[3], x[4], a.training, a.momentum, a.eps, /*cudnn_enabled=*/true);
  });
}
T handCrafted(const In &x, const OpAttrs &, ParameterStore &) {
  return overImages(x[0], [](const T &v) { return handCraftedFeatures(v.cpu()).to(v.device()); });
}
T globalAvgPool(const In &x, const OpAttrs &, ParameterStore &) { return x[0].mean({-2, -1}); }
// (..., C, H, W) -> (..., C, copies, H, W): each channel as its own image.
T perChannel(const In &x, const OpAttrs &a, ParameterStore &) {
  std::vector<int64_t> shape(x[0].sizes().begin(), x[0].sizes().end());
  shape.insert(shape.end() - 2, a.copies);
  return x[0].unsqueeze(-3).expand(shape).contiguous();
}
T linear(const In &x, const OpAttrs &, ParameterStore &) {
  return torch::linear(x[0], x[1], biasOrNone(x[2]));
}
T gelu(const In &x, const OpAttrs &, ParameterStore &) { return torch::gelu(x[0]); }
T tanh(const In &x, const OpAttrs &, ParameterStore &) { return torch::tanh(x[0]); }
T sigmoid(const In &x, const OpAttrs &, ParameterStore &) { return torch::sigmoid(x[0]); }
T detach(const In &x, const OpAttrs &, ParameterStore &) { return x[0].detach(); }
T dropout(const In &x, const OpAttrs &a, ParameterStore &) {
  return torch::dropout(x[0], a.p, /*train=*/true);
}
// Token ops over sequences (..., n, d).
T patchEmbed(const In &x, const OpAttrs &a, ParameterStore &) {
  return overImages(x[0], [&](const T &v) {
    // (B, d, H/p, W/p) -> (B, n, d), positions in row-major order.
    return torch::conv2d(v, x[1], biasOrNone(x[2]), a.patch).flatten(2).transpose(1, 2);
  });
}
T prependToken(const In &x, const OpAttrs &, ParameterStore &) {
  std::vector<int64_t> shape(x[0].sizes().begin(), x[0].sizes().end());
  shape[shape.size() - 2] = 1;
  return torch::cat({x[1].expand(shape), x[0]}, -2);
}
T insertTokens(const In &x, const OpAttrs &a, ParameterStore &) {
  const int64_t n = x[0].size(-2);
  return torch::cat({x[0].narrow(-2, 0, a.at), x[1], x[0].narrow(-2, a.at, n - a.at)}, -2);
}
T addPosition(const In &x, const OpAttrs &, ParameterStore &) { return x[0] + x[1]; }
T attention(const In &x, const OpAttrs &a, ParameterStore &) {
  const int64_t n = x[0].size(-2), d = x[0].size(-1), h = a.heads, dh = d / h;
  T qkv = torch::linear(x[0].reshape({-1, n, d}), x[1], biasOrNone(x[2]))
              .view({-1, n, 3, h, dh})
              .permute({2, 0, 3, 1, 4}); // (3, B, heads, n, dh)
  T q = qkv[0], k = qkv[1], v = qkv[2];
  T weights = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(double(dh))), -1);
  T y = torch::matmul(weights, v).transpose(1, 2).reshape({-1, n, d});
  return torch::linear(y, x[3], biasOrNone(x[4])).view(x[0].sizes());
}
T takeToken(const In &x, const OpAttrs &a, ParameterStore &) { return x[0].select(-2, a.index); }
T meanTokens(const In &x, const OpAttrs &a, ParameterStore &) {
  return x[0].narrow(-2, a.from, x[0].size(-2) - a.from).mean(-2);
}
// (..., m, c, d) -> (..., c, d): attention over the m instances, per channel.
T gatedAttentionPool(const In &x, const OpAttrs &, ParameterStore &) {
  T gate = torch::tanh(torch::linear(x[0], x[1], x[2])) * torch::sigmoid(torch::linear(x[0], x[3], x[4]));
  T weights = torch::softmax(torch::matmul(gate, x[5]), -2); // (..., m, c)
  return (weights.unsqueeze(-1) * x[0]).sum(-3);
}
T layerNorm(const In &x, const OpAttrs &a, ParameterStore &) {
  return torch::layer_norm(x[0], {x[0].size(-1)}, x[1], x[2], a.eps);
}
T reshape(const In &x, const OpAttrs &a, ParameterStore &) {
  std::vector<int64_t> shape{x[0].size(0)};
  shape.insert(shape.end(), a.shape.begin(), a.shape.end());
  return x[0].reshape(shape);
}
T concat(const In &x, const OpAttrs &, ParameterStore &) { return torch::cat({x[0], x[1]}, -1); }
T sub(const In &x, const OpAttrs &, ParameterStore &) { return x[0] - x[1]; }
T embeddingLookup(const In &x, const OpAttrs &, ParameterStore &) {
  return torch::embedding(x[0], x[1]);
}
T l2Normalize(const In &x, const OpAttrs &, ParameterStore &) {
  return F::normalize(x[0], F::NormalizeFuncOptions().p(2).dim(-1).eps(1e-12));
}
T matmul(const In &x, const OpAttrs &a, ParameterStore &) {
  return torch::matmul(x[0], a.transposeB ? x[1].t() : x[1]);
}
T transpose(const In &x, const OpAttrs &, ParameterStore &) { return x[0].t(); }
T exp(const In &x, const OpAttrs &, ParameterStore &) { return torch::exp(x[0]); }
T mul(const In &x, const OpAttrs &, ParameterStore &) { return x[0] * x[1]; }
T add(const In &x, const OpAttrs &, ParameterStore &) { return x[0] + x[1]; }
T arangeRows(const In &x, const OpAttrs &, ParameterStore &) {
  return torch::arange(x[0].size(0), torch::TensorOptions().dtype(torch::kInt64).device(x[0].device()));
}
T crossEntropy(const In &x, const OpAttrs &, ParameterStore &) {
  return F::cross_entropy(x[0], x[1]);
}
T contrastiveLoss(const In &x, const OpAttrs &a, ParameterStore &p) {
  // Losses run in float32 under bf16 autocast (as PyTorch's autocast does for
  // cross-entropy); the casts are differentiable.
  // Autocast stays off inside, so the tensors its backward saved are float32.
  auto f32 = [](const torch::Tensor &t) { return t.to(torch::kFloat32); };
  Autocast off(false, x[0].device().type());
  torch::Tensor lhs = f32(x[0]), rhs = f32(x[1]);
  // Data-parallel training: the loss over the global batch, every rank's
  // rows as negatives (the seeds gather features before the loss).
  if (const Collective *c = p.placement().collective.get(); c && torch::GradMode::is_enabled()) {
    lhs = c->gatherRows(lhs);
    rhs = c->gatherRows(rhs);
  }
  return fusedContrastiveLoss(lhs, rhs, f32(x[2]), ContrastiveKind(a.variant));
}

// The other objectives (runtime/losses/Objectives.cpp), in float32 under autocast like
// the contrastive loss; integer operands (labels) pass as they are.
T loss(const In &x, const OpAttrs &a, ParameterStore &p) {
  In f32;
  for (const T &t : x)
    f32.push_back(t.is_floating_point() ? t.to(torch::kFloat32) : t);
  Autocast off(false, x[0].device().type());
  // Data-parallel training: objectives with terms between rows see the global batch.
  if (const Collective *c = p.placement().collective.get(); c && torch::GradMode::is_enabled())
    for (int i : objectiveBatchOperands(Objective{a.variant}))
      f32[i] = c->gatherRows(f32[i]);
  return objectiveLoss(Objective{a.variant}, f32, a.params);
}

// The kernels by op name; each op's arity and traits are the plan
// contract's (contract/StepOps.h, generated from StepOps.td), and the
// plan_contract test checks that this table and the contract name the same ops.
struct Entry {
  const char *name;
  KernelFn fn;
};

const Entry kKernels[] = {
    {"param", param},
    {"constant", constant},
    {"conv2d", conv2d},
    {"relu", relu},
    {"max_pool2d", maxPool2d},
    {"global_avg_pool", globalAvgPool},
    {"hand_crafted", handCrafted},
    {"avg_pool2d", avgPool2d},
    {"batch_norm", batchNorm},
    {"insert_tokens", insertTokens},
    {"linear", linear},
    {"embedding_lookup", embeddingLookup},
    {"l2_normalize", l2Normalize},
    {"matmul", matmul},
    {"transpose", transpose},
    {"exp", exp},
    {"mul", mul},
    {"add", add},
    {"arange_rows", arangeRows},
    {"cross_entropy", crossEntropy},
    {"contrastive_loss", contrastiveLoss},
    {"loss", loss}, // variadic: each objective's arity (plan/Plan.cpp checks it)
    {"gelu", gelu},
    {"tanh", tanh},
    {"sigmoid", sigmoid},
    {"detach", detach},
    {"dropout", dropout},
    {"layer_norm", layerNorm},
    {"reshape", reshape},
    {"concat", concat},
    {"sub", sub},
    {"per_channel", perChannel},
    {"patch_embed", patchEmbed},
    {"prepend_token", prependToken},
    {"add_position", addPosition},
    {"attention", attention},
    {"take_token", takeToken},
    {"mean_tokens", meanTokens},
    {"gated_attention_pool", gatedAttentionPool},
};

const expcontract::StepOpInfo &contractOf(int kernel) {
  // Every kernel's op is in the contract (the plan_contract test), so this
  // is never null for a kernel index.
  return *expcontract::findStepOp(kKernels[kernel].name);
}

} // namespace

int findKernel(const std::string &op) {
  if (!expcontract::findStepOp(op))
    return -1;
  for (size_t i = 0; i < std::size(kKernels); ++i)
    if (op == kKernels[i].name)
      return static_cast<int>(i);
  return -1;
}
size_t kernelArity(int kernel) { return static_cast<size_t>(contractOf(kernel).operands); }
bool kernelIsElementwise(int kernel) { return contractOf(kernel).elementwise; }
KernelFn kernelFunction(int kernel) { return kKernels[kernel].fn; }
std::vector<std::string> kernelNames() {
  std::vector<std::string> names;
  for (const Entry &e : kKernels)
    names.push_back(e.name);
  return names;
}

Status bindKernels(Plan &plan, const std::string &origin) {
  for (auto &[name, graph] : plan.graphs)
    for (size_t i = 0; i < graph.ops.size(); ++i) {
      OpNode &node = graph.ops[i];
      const std::string at = origin + ": `graphs." + name + ".ops[" + std::to_string(i) + "]";
      node.kernel = findKernel(node.op);
      if (node.kernel < 0)
        return Status::error(ErrorKind::PlanUnsupported, at + "` uses op `" + node.op + "`, which this runtime has no kernel for; use a "
                                  "runtime that matches the compiler");
      if (node.op == "loss") { // one kernel for the objectives; each has its arity
        Objective kind;
        if (!parseObjective(node.attrs.kind, kind))
          return Status::error(ErrorKind::PlanUnsupported, at + ".attrs.kind` is `" + node.attrs.kind +
                               "`, an objective this runtime does not know");
        node.attrs.variant = kind.index;
        if (node.operands.size() != objectiveArity(kind))
          return Status::error(ErrorKind::PlanInvalid, at + "` gives objective `" + node.attrs.kind + "` " +
                               std::to_string(node.operands.size()) + " operands; it takes " +
                               std::to_string(objectiveArity(kind)));
      }
      if (node.op == "contrastive_loss") {
        ContrastiveKind kind;
        if (!parseContrastiveKind(node.attrs.kind, kind))
          return Status::error(ErrorKind::PlanUnsupported, at + ".attrs.kind` is `" + node.attrs.kind +
                               "`; this runtime knows `clip` and `infoloob`");
        node.attrs.variant = static_cast<int>(kind);
      }
    }
  return Status::ok();
}

Status parsePlan(const std::string &text, const std::string &origin, Plan &plan) {
  if (Status s = readPlan(text, origin, plan); !s)
    return s;
  return bindKernels(plan, origin);
}

} // namespace exprt
