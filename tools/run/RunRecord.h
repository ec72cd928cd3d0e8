// What the tool reads back from a run directory's `run.json` (docs/
// artifact.md, "Run record"): each field it uses, with its type, checked
// once where the file is read, so no later read can meet a value of the
// wrong type (a hand-edited or damaged record is refused, T0108).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace exptool {

// The fields a resume and the MLflow mirror read, typed.
struct RunRecordFields {
  std::string status;        // running | finished | failed
  int threads = 1;           // the arithmetic's threads, kept across a resume
  long long checkpointEvery = 0;
  std::string device = "cpu";
  int dataWorkers = 1;
  std::string featureCache, dataCache; // "" : none
  std::string mlruns, experiment = "exp", mlflowRunId, source;
  long long startedMs = 0;
};

// "" when `doc` is a run record whose fields have the types and ranges the
// tool reads them as; else what is wrong, as "`threads` must be an integer
// from 1 to 4096".
std::string checkRunRecord(const nlohmann::json &doc);

// The fields of a record that checkRunRecord accepted (defaults for the
// optional ones it lacks).
RunRecordFields runRecordFields(const nlohmann::json &doc);

// Parses and checks `text`, the contents of `path`: false with `error`
// ("PATH: not a valid run record: ..."), and `doc` untouched.
bool parseRunRecord(const std::string &text, const std::string &path, nlohmann::json &doc, std::string &error);

} // namespace exptool
