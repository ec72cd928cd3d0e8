#include "train/Checkpoint.h"
#include "train/CheckpointManifest.h"

#include "record/Json.h"
#include "record/SafeTensors.h"
#include "record/Sha256.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>

#include <unistd.h>

namespace exprt {
namespace fs = std::filesystem;
namespace {

constexpr const char *kPrefix = "step-";

torch::Tensor doubles(const std::vector<double> &v) {
  return torch::tensor(v, torch::kFloat64).reshape({static_cast<int64_t>(v.size())});
}

std::vector<double> toDoubles(const torch::Tensor &t) {
  torch::Tensor c = t.to(torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

std::string checkpointName(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%08lld", kPrefix, static_cast<long long>(step));
  return buf;
}

// Steps of the complete checkpoints under `root`, ascending.
std::vector<std::pair<int64_t, fs::path>> listCheckpoints(const fs::path &root) {
  std::vector<std::pair<int64_t, fs::path>> out;
  std::error_code ec;
  for (const auto &e : fs::directory_iterator(root, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 || !fs::exists(e.path() / "manifest.json"))
      continue;
    try {
      out.emplace_back(std::stoll(name.substr(std::strlen(kPrefix))), e.path());
    } catch (const std::exception &) {
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The plain SHA-256 of a file's bytes, as `sha256sum` prints it (Sha256's
// string overload is length-prefixed, for composite keys).
std::string fileSha256(const std::string &bytes) {
  return Sha256().update(bytes.data(), bytes.size()).hex();
}

} // namespace

Status writeCheckpoint(const std::string &dir, const std::string &planSha256,
                       const ParameterStore &params, const TrainOptimizer &opt,
                       const Schedule &schedule, const TrainState &state, int keep) {
  fs::path root = fs::path(dir) / "checkpoints";
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec)
    return Status::error(ErrorKind::CheckpointUnwritable, root.string() + ": cannot create: " + ec.message());
  std::string name = checkpointName(state.step);
  fs::path tmp = root / ("." + name + ".tmp-" + std::to_string(::getpid()));
  fs::path final = root / name;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec)
    return Status::error(ErrorKind::CheckpointUnwritable, tmp.string() + ": cannot create: " + ec.message());
  auto abandon = [&](Status s) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    return s;
  };

  SafeTensors file;
  for (const ParameterSpec &s : params.specs())
    file.tensors["param/" + s.name] = params.get(s.name);
  opt.save(file.tensors);
  file.tensors["loader/order"] = state.order.defined() ? state.order : torch::zeros({0}, torch::kInt64);
  file.tensors["rng/torch_cpu"] = state.torchRng;
  if (state.deviceRng.defined())
    file.tensors["rng/torch_cuda"] = state.deviceRng;
  // The shuffle generator's state as the text its operator<< writes.
  file.tensors["rng/shuffle"] =
      torch::tensor(std::vector<uint8_t>(state.shuffleRng.begin(), state.shuffleRng.end()),
                    torch::kUInt8);
  file.tensors["history/epoch_loss"] = doubles(state.epochLoss);
  file.tensors["history/step_loss"] = doubles(state.stepLoss);
  file.tensors["history/step_lr"] = doubles(state.stepLr);
  file.tensors["history/step_grad_norm"] = doubles(state.stepGradNorm);
  file.tensors["history/val_loss"] = doubles(state.valLoss);
  for (const auto &[name, t] : state.best)
    file.tensors["best/" + name] = t;
  std::string bytes;
  fs::path tensorsPath = tmp / "state.safetensors";
  if (Status s = encodeSafeTensors(tensorsPath.string(), file, bytes); !s)
    return abandon(s);
  if (Status s = writeFileAtomic(tensorsPath.string(), bytes); !s)
    return abandon(s);

  nlohmann::json m = {{"format", "exp-checkpoint"},
                      {"format_version", kCheckpointFormatVersion},
                      {"plan_sha256", planSha256},
                      {"step", state.step},
                      {"batch", state.batch},
                      {"epoch_loss_sum", state.epochLossSum},
                      {"epoch_batches", state.epochBatches},
                      {"schedule", schedule.state()},
                      {"early_stopping",
                       {{"best_epoch", state.bestEpoch},
                        {"best_val_loss", state.bestValLoss},
                        {"bad_epochs", state.badEpochs},
                        {"stopped", state.stopped}}},
                      {"state_sha256", fileSha256(bytes)}};
  if (Status s = writeFileAtomic((tmp / "manifest.json").string(), m.dump(2) + "\n"); !s)
    return abandon(s);
  // A checkpoint of this step from before a resume holds the same state.
  fs::remove_all(final, ec);
  fs::rename(tmp, final, ec);
  if (ec)
    return abandon(Status::error(ErrorKind::CheckpointUnwritable, final.string() + ": cannot rename into place: " + ec.message()));
  if (Status s = syncDirectory(root.string()); !s)
    return s;
  // Keep the newest `keep`; drop temporaries of writers that were killed.
  auto all = listCheckpoints(root);
  for (size_t i = 0; i + keep < all.size(); ++i)
    fs::remove_all(all[i].second, ec);
  for (const auto &e : fs::directory_iterator(root, ec))
    if (e.path().filename().string().rfind(".", 0) == 0 && e.path() != tmp)
      fs::remove_all(e.path(), ec);
  return Status::ok();
}

std::string latestCheckpoint(const std::string &dir) {
  auto all = listCheckpoints(fs::path(dir) / "checkpoints");
  return all.empty() ? "" : all.back().second.string();
}

namespace {

// A tensor of the checkpoint's file, or an error naming it.
Status need(const SafeTensors &file, const std::string &tensorsPath, const std::string &name, torch::Tensor &out) {
  auto it = file.tensors.find(name);
  if (it == file.tensors.end())
    return Status::error(ErrorKind::CheckpointInvalid, tensorsPath + ": tensor `" + name + "` is missing");
  out = it->second;
  return Status::ok();
}

// A stored copy of parameter `p` must have its shape and type.
Status fits(const std::string &tensorsPath, const std::string &name, const torch::Tensor &t, const torch::Tensor &p) {
  if (t.sizes() == p.sizes() && t.scalar_type() == p.scalar_type())
    return Status::ok();
  return Status::error(ErrorKind::CheckpointMismatch, tensorsPath + ": tensor `" + name + "` has shape " + c10::str(t.sizes()) +
                       ", the plan's parameter " + c10::str(p.sizes()));
}

// Every parameter (and the best epoch's copy, when early stopping has seen one).
Status readParameters(const SafeTensors &file, const std::string &tensorsPath, ParameterStore &params,
                      TrainState &state) {
  torch::NoGradGuard noGrad;
  for (const ParameterSpec &s : params.specs()) {
    torch::Tensor t, p = params.get(s.name);
    if (Status st = need(file, tensorsPath, "param/" + s.name, t); !st)
      return st;
    if (Status st = fits(tensorsPath, "param/" + s.name, t, p); !st)
      return st;
    p.copy_(t);
    // The best epoch's parameters, when early stopping has seen one.
    if (auto b = file.tensors.find("best/" + s.name); b != file.tensors.end()) {
      if (Status st = fits(tensorsPath, "best/" + s.name, b->second, p); !st)
        return st;
      state.best[s.name] = b->second;
    }
  }
  if (!state.best.empty() && state.best.size() != params.specs().size())
    return Status::error(ErrorKind::CheckpointInvalid, tensorsPath + ": the best epoch's parameters (`best/...`) are incomplete");
  return Status::ok();
}

} // namespace

Status readCheckpoint(const std::string &path, const std::string &planSha256,
                      ParameterStore &params, TrainOptimizer &opt, Schedule &schedule,
                      TrainState &state) {
  std::string manifestPath = (fs::path(path) / "manifest.json").string(), stateSha256;
  if (Status s = readCheckpointManifest(manifestPath, planSha256, schedule, state, stateSha256); !s)
    return s;
  std::string tensorsPath = (fs::path(path) / "state.safetensors").string();
  std::string bytes;
  if (!readFile(tensorsPath, bytes))
    return Status::error(ErrorKind::CheckpointUnreadable, tensorsPath + ": cannot open");
  if (fileSha256(bytes) != stateSha256)
    return Status::error(ErrorKind::CheckpointInvalid, tensorsPath + ": its SHA-256 differs from the manifest's (truncated " +
                         "or corrupt); delete this checkpoint to resume from an earlier one");
  SafeTensors file;
  if (Status s = decodeSafeTensors(tensorsPath, bytes, file); !s)
    return Status::error(ErrorKind::CheckpointInvalid, s.message());
  torch::NoGradGuard noGrad;
  if (Status s = readParameters(file, tensorsPath, params, state); !s)
    return s;
  if (Status s = opt.restore(file.tensors); !s)
    return Status::error(ErrorKind::CheckpointInvalid, tensorsPath + ": " + s.message());
  torch::Tensor epochLoss, stepLoss, stepLr, gradNorm, valLoss, shuffle;
  for (auto [name, t] : {std::pair{"loader/order", &state.order},
                         {"rng/shuffle", &shuffle},
                         {"rng/torch_cpu", &state.torchRng},
                         {"history/epoch_loss", &epochLoss},
                         {"history/step_loss", &stepLoss},
                         {"history/step_lr", &stepLr},
                         {"history/step_grad_norm", &gradNorm},
                         {"history/val_loss", &valLoss}})
    if (Status s = need(file, tensorsPath, name, *t); !s)
      return s;
  // Optional: written by runs on a CUDA device.
  if (auto it = file.tensors.find("rng/torch_cuda"); it != file.tensors.end())
    state.deviceRng = it->second;
  if (shuffle.scalar_type() != torch::kUInt8)
    return Status::error(ErrorKind::CheckpointInvalid, tensorsPath + ": `rng/shuffle` must be U8");
  state.shuffleRng.assign(shuffle.data_ptr<uint8_t>(), shuffle.data_ptr<uint8_t>() + shuffle.numel());
  state.epochLoss = toDoubles(epochLoss);
  state.stepLoss = toDoubles(stepLoss);
  state.stepLr = toDoubles(stepLr);
  state.stepGradNorm = toDoubles(gradNorm);
  state.valLoss = toDoubles(valLoss);
  if (state.order.scalar_type() != torch::kInt64 || state.torchRng.scalar_type() != torch::kUInt8)
    return Status::error(ErrorKind::CheckpointInvalid, tensorsPath + ": `loader/order` must be I64 and `rng/torch_cpu` U8");
  return Status::ok();
}

} // namespace exprt
