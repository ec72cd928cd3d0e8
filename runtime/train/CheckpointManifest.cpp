#include "train/CheckpointManifest.h"

#include "record/Json.h"

#include <nlohmann/json.hpp>

namespace exprt {
namespace {

// Field `key` of `m` when it is a string, else "" (json::value would throw
// on a field of another type, and a damaged manifest may have one).
std::string textField(const nlohmann::json &m, const char *key) {
  auto it = m.find(key);
  return it != m.end() && it->is_string() ? it->get<std::string>() : std::string();
}

} // namespace

Status readCheckpointManifest(const std::string &manifestPath, const std::string &planSha256, Schedule &schedule,
                              TrainState &state, std::string &stateSha256) {
  std::string manifest;
  if (!readFile(manifestPath, manifest))
    return Status::error(ErrorKind::CheckpointUnreadable, manifestPath + ": cannot open");
  nlohmann::json m = nlohmann::json::parse(manifest, nullptr, false);
  auto bad = [&](const std::string &what) {
    return Status::error(ErrorKind::CheckpointInvalid, manifestPath + ": not a valid checkpoint manifest: " + what);
  };
  if (m.is_discarded() || !m.is_object())
    return bad("not a JSON object (truncated?)");
  if (textField(m, "format") != "exp-checkpoint")
    return bad("its `format` is not \"exp-checkpoint\"");
  if (!m.contains("format_version") || m["format_version"] != kCheckpointFormatVersion)
    return Status::error(ErrorKind::CheckpointInvalid, manifestPath + ": checkpoint format version " +
                         m.value("format_version", nlohmann::json()).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                         " is not supported; this runtime reads version " +
                         std::to_string(kCheckpointFormatVersion));
  if (textField(m, "plan_sha256") != planSha256)
    return Status::error(ErrorKind::CheckpointMismatch, manifestPath + ": the checkpoint belongs to another plan (its " +
                         "plan_sha256 differs from plan.json's); resume with the plan it was " +
                         "written by");
  // A counter must be a JSON integer: nlohmann casts a float unchecked.
  auto counter = [](const nlohmann::json &v) {
    if (!v.is_number_integer())
      throw nlohmann::json::type_error::create(302, "not an integer", &v);
    return v.get<int64_t>();
  };
  try {
    state.step = counter(m.at("step"));
    state.batch = counter(m.at("batch"));
    state.epochLossSum = m.at("epoch_loss_sum").get<double>();
    state.epochBatches = counter(m.at("epoch_batches"));
  } catch (const nlohmann::json::exception &) {
    return bad("`step`, `batch`, `epoch_loss_sum` and `epoch_batches` are needed");
  }
  try {
    const nlohmann::json &es = m.at("early_stopping");
    state.bestEpoch = counter(es.at("best_epoch"));
    state.bestValLoss = es.at("best_val_loss").get<double>();
    state.badEpochs = counter(es.at("bad_epochs"));
    state.stopped = es.at("stopped").get<bool>();
  } catch (const nlohmann::json::exception &) {
    return bad("`early_stopping` needs `best_epoch`, `best_val_loss`, `bad_epochs` and `stopped`");
  }
  if (Status s = schedule.restore(m.contains("schedule") ? m["schedule"] : nlohmann::json::object()); !s)
    return Status::error(ErrorKind::CheckpointInvalid, manifestPath + ": " + s.message());
  stateSha256 = textField(m, "state_sha256");
  return Status::ok();
}

} // namespace exprt
