// Fused contrastive losses: L2-normalise both sides, similarity matmul,
// scale, and (leave-one-out) cross-entropy in both directions, as one autograd
// node with a hand-written backward. It keeps one N x N buffer alive for the
// backward instead of the composition's half-dozen, and is what the compiler's
// step-fuse-contrastive-loss pass rewrites the unfused composition into.
#pragma once

#include <string>
#include <torch/types.h>

namespace exprt {

enum class ContrastiveKind {
  Clip,     // symmetric InfoNCE: mean of CE(L, I) and CE(L^T, I)
  InfoLoob, // CLOOB's InfoLOOB: the positive left out of the denominator, times 1/scale
};

// Parses "clip" / "infoloob"; false when unknown.
bool parseContrastiveKind(const std::string &name, ContrastiveKind &out);

// The loss of embeddings a (N, d) and b (N, d) paired row by row, with logits
// scale * normalize(a) normalize(b)^T; `scale` is a 0-d tensor.
torch::Tensor fusedContrastiveLoss(const torch::Tensor &a, const torch::Tensor &b,
                                   const torch::Tensor &scale, ContrastiveKind kind);

} // namespace exprt
