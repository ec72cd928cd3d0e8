#include "MlflowStore.h"

#include "Io.h"

#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <vector>

#include <pwd.h>
#include <unistd.h>

namespace exptool {
namespace fs = std::filesystem;
namespace {

// MLflow's file store accepts names of word characters, `.`, `-`, ` ` and `/`.
std::string key(std::string k) {
  for (char &c : k)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' ||
          c == ' ' || c == '/'))
      c = '_';
  return k;
}

// A YAML scalar: single-quoted, quotes doubled (the meta files hold a fixed
// set of flat keys, so no YAML library is needed to write them).
std::string yamlString(const std::string &s) {
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string scalar(const nlohmann::json &v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// `prefix.key` = value for every scalar under `j` (objects flattened).
void flatten(const nlohmann::json &j, const std::string &prefix,
             std::map<std::string, std::string> &out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it)
      flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  } else if (!j.is_array() && !j.is_null()) {
    out[key(prefix)] = scalar(j);
  }
}

std::string experimentId(const std::string &name) {
  // MLflow's own ids are 18-digit numbers; this one is stable per name.
  unsigned long long h = std::stoull(sha256Hex(name).substr(0, 15), nullptr, 16);
  return fmt::format("{:018d}", h % 1000000000000000000ull);
}

bool writeAll(const fs::path &dir, const std::map<std::string, std::string> &files,
              std::string &error) {
  std::error_code ec;
  fs::remove_all(dir, ec); // rewritten whole: a resumed run's history replaces the old
  fs::create_directories(dir, ec);
  if (ec) {
    error = "cannot create " + dir.string() + ": " + ec.message();
    return false;
  }
  for (const auto &[name, text] : files) {
    fs::path path = dir / name;
    fs::create_directories(path.parent_path(), ec);
    if (!writeFile(path.string(), text, error))
      return false;
  }
  return true;
}

// metrics/NAME files: "timestamp value step" per line.
std::map<std::string, std::string> metricFiles(const nlohmann::json &m, long long ms) {
  std::map<std::string, std::string> files;
  auto series = [&](const std::string &name, const nlohmann::json &values) {
    std::string text;
    for (size_t i = 0; values.is_array() && i < values.size(); ++i)
      if (values[i].is_number())
        text += fmt::format("{} {} {}\n", ms, values[i].dump(), i + 1);
    if (!text.empty())
      files[key(name)] = text;
  };
  const nlohmann::json &t = m.value("train", nlohmann::json::object());
  series("train_loss", t.value("loss", nlohmann::json()));
  series("val_loss", t.value("val_loss", nlohmann::json()));
  series("step_loss", t.value("step_loss", nlohmann::json()));
  series("lr", t.value("step_lr", nlohmann::json()));
  series("grad_norm", t.value("step_grad_norm", nlohmann::json()));
  long long steps = t.value("steps", 0LL);
  auto last = [&](const std::string &name, const nlohmann::json &v) {
    if (v.is_number())
      files[key(name)] = fmt::format("{} {} {}\n", ms, v.dump(), steps);
  };
  last("train_seconds", t.value("seconds", nlohmann::json()));
  if (t.value("best_epoch", 0) > 0)
    last("best_epoch", t["best_epoch"]);
  // Final evaluations: their scalars, and the baselines' as NAME.untrained.*.
  const nlohmann::json evals = m.value("evaluations", nlohmann::json::object());
  for (const auto &[name, e] : evals.items())
    for (const auto &[k, v] : e.items()) {
      if (v.is_object() && (k == "untrained" || k == "random_embeddings")) {
        for (const auto &[k2, v2] : v.items())
          last(name + "." + k + "." + k2, v2);
      } else {
        last(name + "." + k, v);
      }
    }
  return files;
}

} // namespace

std::string mlflowRunId(const std::string &runDir, long long startMs) {
  return sha256Hex(runDir + "\n" + std::to_string(startMs)).substr(0, 32);
}

void removeMlflowRun(const MlflowRun &run) {
  std::error_code ec;
  fs::remove_all(fs::path(run.store) / experimentId(run.experiment) / run.runId, ec);
}

bool writeMlflowRun(const MlflowRun &run, const nlohmann::json &plan,
                    const nlohmann::json &metrics, std::string &error) {
  const std::string expId = experimentId(run.experiment);
  fs::path expDir = fs::path(run.store) / expId, runDir = expDir / run.runId;
  std::error_code ec;
  fs::create_directories(runDir, ec);
  if (ec) {
    error = "cannot create " + runDir.string() + ": " + ec.message();
    return false;
  }
  std::string expUri = "file://" + fs::absolute(expDir).lexically_normal().string();
  if (!fs::exists(expDir / "meta.yaml") &&
      !writeFile((expDir / "meta.yaml").string(),
                 fmt::format("artifact_location: {}\ncreation_time: {}\nexperiment_id: {}\n"
                             "last_update_time: {}\nlifecycle_stage: active\nname: {}\n",
                             yamlString(expUri), run.startMs, yamlString(expId), run.startMs,
                             yamlString(run.experiment)),
                 error))
    return false;
  const passwd *pw = ::getpwuid(::getuid());
  const char *user = std::getenv("USER") ? std::getenv("USER") : pw ? pw->pw_name : nullptr;
  std::string meta = fmt::format(
      "artifact_uri: {}\nend_time: {}\nentry_point_name: ''\nexperiment_id: {}\n"
      "lifecycle_stage: active\nrun_id: {}\nrun_name: {}\nrun_uuid: {}\nsource_name: ''\n"
      "source_type: 4\nsource_version: ''\nstart_time: {}\nstatus: {}\ntags: []\nuser_id: {}\n",
      yamlString("file://" + run.runDir), run.endMs ? std::to_string(run.endMs) : "null",
      yamlString(expId), run.runId, yamlString(run.runName), run.runId, run.startMs,
      static_cast<int>(run.status), yamlString(user ? user : ""));
  if (!writeFile((runDir / "meta.yaml").string(), meta, error))
    return false;

  std::map<std::string, std::string> params;
  const nlohmann::json &data = plan.value("data", nlohmann::json::object());
  flatten(data.value("params", nlohmann::json::object()), "data", params);
  flatten(data.value("augment", nlohmann::json::object()), "data.augment", params);
  params["data.source"] = data.value("kind", "");
  if (data.contains("val_fraction"))
    params["data.val_fraction"] = scalar(data["val_fraction"]);
  nlohmann::json train = plan.value("train", nlohmann::json::object());
  for (const char *k : {"optimizer", "schedule"})
    if (train.contains(k) && train[k].is_object()) {
      params[std::string("train.") + k] = train[k].value("kind", "");
      flatten(train[k].value("params", nlohmann::json::object()), std::string("train.") + k,
              params);
      train.erase(k);
    }
  flatten(train, "train", params);
  if (!writeAll(runDir / "params", params, error))
    return false;

  const nlohmann::json &source = plan.value("source", nlohmann::json::object());
  std::map<std::string, std::string> tags = {
      {"mlflow.runName", run.runName},
      {"mlflow.source.name", run.source},
      {"mlflow.source.type", "LOCAL"},
      {"mlflow.user", user ? user : ""},
      {"exp.run_dir", run.runDir},
      {"exp.source_sha256", source.value("sha256", "")},
      {"exp.plan_sha256", run.planSha256},
      {"exp.compiler_build_id", plan.value("compiler", nlohmann::json::object()).value("build_id", "")}};
  std::string overrides;
  for (const auto &o : source.value("overrides", nlohmann::json::array()))
    overrides += (overrides.empty() ? "" : " ") + scalar(o);
  if (!overrides.empty())
    tags["exp.overrides"] = overrides;
  if (!run.error.empty())
    tags["exp.error"] = run.error;
  if (metrics.is_object())
    tags["exp.data_sha256"] =
        metrics.value("data", nlohmann::json::object()).value("sha256", "");
  if (!writeAll(runDir / "tags", tags, error))
    return false;
  if (metrics.is_object() && !writeAll(runDir / "metrics", metricFiles(metrics, run.endMs), error))
    return false;
  return true;
}

} // namespace exptool
