#include "RunRecord.h"


namespace exptool {
namespace {

enum class Kind { String, Integer, Array };

struct Field {
  const char *name;
  Kind kind;
  bool required;
  long long min, max; // integers
};

// Every field of run.json the tool reads back; the rest (the command line,
// times, the world, the error) it only writes, for people and scripts.
constexpr Field kFields[] = {
    {"status", Kind::String, true, 0, 0},
    {"threads", Kind::Integer, true, 1, 4096},
    {"checkpoint_every", Kind::Integer, true, 0, 1LL << 40},
    {"device", Kind::String, false, 0, 0},
    {"data_workers", Kind::Integer, false, 0, 1024},
    {"nproc", Kind::Integer, false, 1, 4096},
    {"feature_cache", Kind::String, false, 0, 0},
    {"data_cache", Kind::String, false, 0, 0},
    {"mlruns", Kind::String, false, 0, 0},
    {"experiment", Kind::String, false, 0, 0},
    {"mlflow_run_id", Kind::String, false, 0, 0},
    {"source", Kind::String, false, 0, 0},
    {"started_ms", Kind::Integer, false, 0, 1LL << 50},
    {"resumed", Kind::Array, false, 0, 0},
};

std::string checkField(const nlohmann::json &doc, const Field &f) {
  const std::string name = std::string("`") + f.name + "`";
  if (!doc.contains(f.name))
    return f.required ? name + " is missing" : "";
  const nlohmann::json &v = doc[f.name];
  switch (f.kind) {
  case Kind::String:
    return v.is_string() ? "" : name + " must be a string";
  case Kind::Array:
    return v.is_array() ? "" : name + " must be an array";
  case Kind::Integer:
    // get<long long> of an unsigned past its range wraps: test the sign first.
    if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<unsigned long long>() > (1ULL << 62)) ||
        v.get<long long>() < f.min || v.get<long long>() > f.max)
      return name + " must be an integer from " + std::to_string(f.min) + " to " + std::to_string(f.max);
    return "";
  }
  return "";
}

} // namespace

std::string checkRunRecord(const nlohmann::json &doc) {
  if (!doc.is_object())
    return "not a JSON object";
  for (const Field &f : kFields)
    if (std::string why = checkField(doc, f); !why.empty())
      return why;
  const std::string status = doc["status"].get<std::string>();
  if (status != "running" && status != "finished" && status != "failed")
    return "`status` must be running, finished or failed, not `" + status.substr(0, 40) + "`";
  return "";
}

RunRecordFields runRecordFields(const nlohmann::json &doc) {
  RunRecordFields f;
  f.status = doc.at("status").get<std::string>();
  f.threads = doc.at("threads").get<int>();
  f.checkpointEvery = doc.at("checkpoint_every").get<long long>();
  f.device = doc.value("device", f.device);
  f.dataWorkers = doc.value("data_workers", f.dataWorkers);
  f.featureCache = doc.value("feature_cache", "");
  f.dataCache = doc.value("data_cache", "");
  f.mlruns = doc.value("mlruns", "");
  f.experiment = doc.value("experiment", f.experiment);
  f.mlflowRunId = doc.value("mlflow_run_id", "");
  f.source = doc.value("source", "");
  f.startedMs = doc.value("started_ms", 0LL);
  return f;
}

bool parseRunRecord(const std::string &text, const std::string &path, nlohmann::json &doc, std::string &error) {
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  std::string why = parsed.is_discarded() ? "not JSON" : checkRunRecord(parsed);
  if (!why.empty()) {
    error = path + ": not a valid run record: " + why;
    return false;
  }
  doc = std::move(parsed);
  return true;
}

} // namespace exptool
