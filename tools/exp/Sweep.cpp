#include "Sweep.h"

#include "Io.h"
#include "RunRecord.h"
#include "Spawn.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include <sys/wait.h>

namespace exptool {
namespace fs = std::filesystem;
namespace {

std::string pointName(size_t k, size_t count) {
  const size_t width = std::to_string(count > 0 ? count - 1 : 0).size();
  std::string n = std::to_string(k);
  return "point-" + std::string(width > n.size() ? width - n.size() : 0, '0') + n;
}

// A CSV field, quoted when it needs to be.
std::string csv(const std::string &v) {
  if (v.find_first_of(",\"\n") == std::string::npos)
    return v;
  std::string q = "\"";
  for (char c : v)
    q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// Gathers every point's outcome in `dir` (sweep.json's points) into
// results.csv and a table on stdout; non-zero when a point did not finish.
int collect(const fs::path &dir) {
  nlohmann::json sweep = readJson(dir / "sweep.json");
  if (!sweep.is_object() || !sweep["points"].is_array())
    return fail(ToolError::NotASweepDir, "`" + dir.string() + "` is not a sweep directory (it has no valid sweep.json)");
  std::vector<std::string> columns; // evaluation metrics, in order of first appearance
  std::vector<std::map<std::string, std::string>> rows;
  int unfinished = 0;
  for (const nlohmann::json &p : sweep["points"]) {
    if (!p.is_object() || !p["dir"].is_string() || !p["index"].is_number_integer() || !p["label"].is_string())
      return fail(ToolError::NotASweepDir, (dir / "sweep.json").string() +
                  ": a point needs a string `dir`, an integer `index` and a string `label`");
    const fs::path run = dir / p["dir"].get<std::string>() / "run";
    nlohmann::json info = readJson(run / "run.json"), m = readJson(run / "metrics.json");
    std::map<std::string, std::string> row{{"point", std::to_string(p["index"].get<int64_t>())},
                                           {"values", p["label"].get<std::string>()}};
    row["status"] = checkRunRecord(info).empty() ? info["status"].get<std::string>()
                    : info.is_object()           ? "unknown"
                                                 : "not run";
    if (row["status"] != "finished")
      ++unfinished;
    if (m.is_object()) {
      if (m["train"].is_object() && m["train"]["final_loss"].is_number())
        row["final_loss"] = fmt::format("{:.6g}", m["train"]["final_loss"].get<double>());
      const nlohmann::json evaluations = m["evaluations"].is_object() ? m["evaluations"] : nlohmann::json::object();
      for (auto &[name, r] : evaluations.items()) {
        if (!r.is_object())
          continue;
        for (auto &[key, v] : r.items())
          if (v.is_number_float()) {
            const std::string col = name + "." + key;
            if (std::find(columns.begin(), columns.end(), col) == columns.end())
              columns.push_back(col);
            row[col] = fmt::format("{:.6g}", v.get<double>());
          }
      }
    }
    rows.push_back(row);
  }
  std::vector<std::string> header{"point", "status", "final_loss"};
  header.insert(header.end(), columns.begin(), columns.end());
  header.push_back("values");
  std::string text;
  for (size_t c = 0; c < header.size(); ++c)
    text += (c ? "," : "") + csv(header[c]);
  text += "\n";
  for (auto &row : rows) {
    for (size_t c = 0; c < header.size(); ++c)
      text += (c ? "," : "") + csv(row[header[c]]);
    text += "\n";
  }
  std::string error;
  if (!writeFile((dir / "results.csv").string(), text, error))
    return fail(ToolError::CannotWrite, error);
  // The table for the terminal: fixed-width columns, the values last.
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (auto &row : rows)
      width[c] = std::max(width[c], row[header[c]].size());
  }
  for (size_t c = 0; c < header.size(); ++c)
    std::cout << fmt::format("{:<{}}", header[c], width[c] + 2);
  std::cout << "\n";
  for (auto &row : rows) {
    for (size_t c = 0; c < header.size(); ++c)
      std::cout << fmt::format("{:<{}}", row[header[c]], width[c] + 2);
    std::cout << "\n";
  }
  std::cout << "results: " << (dir / "results.csv").string() << "\n";
  if (unfinished)
    return fail(ToolError::PointsUnfinished, fmt::format("{} of {} points did not finish", unfinished, rows.size()));
  return 0;
}

// Starts `exp run` on one point's plan, its output into the point's directory.
pid_t startPoint(const fs::path &pointDir, int threads, const SweepRequest &r) {
  std::vector<std::string> args{"run", (pointDir / "plan.json").string(), "--run-dir",
                                (pointDir / "run").string(), "--quiet", "--threads", std::to_string(threads),
                                "--device", r.device};
  if (!r.compile.useCache)
    args.push_back("--no-cache");
  return spawnExp(args, nullptr, (pointDir / "output.txt").string());
}

// Every point's plan, compiled before anything runs: a point that does not
// compile stops the sweep. False after reporting the error.
bool compilePoints(const SweepRequest &r, expc::CompileOutput &first, std::vector<std::string> &plans) {
  expc::CompileOptions options = r.compile;
  if (r.device != "cpu")
    options.target = "cuda";
  options.sweepPoint = 0;
  if (!expc::compileFile(r.file, options, first, std::cerr))
    return false;
  const size_t count = first.sweepLabels.size();
  if (count == 0) {
    fail(ToolError::NoSweepPoints,
         "`" + r.file + "` has no sweep points (`sweep [...]` or a distribution); `exp run` runs it");
    return false;
  }
  plans = {first.text};
  for (size_t k = 1; k < count; ++k) {
    options.sweepPoint = static_cast<int>(k);
    expc::CompileOutput out;
    if (!expc::compileFile(r.file, options, out, std::cerr)) {
      fail(ToolError::PointDoesNotCompile, fmt::format("sweep point {} of {} ({}) does not compile; nothing was run", k + 1, count,
                       first.sweepLabels[k]));
      return false;
    }
    plans.push_back(out.text);
  }
  return true;
}

fs::path noDirectory(const std::string &message) {
  fail(ToolError::CannotWrite, message);
  return fs::path();
}

// The sweep directory: sweep.json and each point's plan. Its absolute
// path, or "" after reporting the error.
fs::path writeSweepDirectory(const SweepRequest &r, const expc::CompileOutput &first,
                             const std::vector<std::string> &plans, fs::path dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return noDirectory("cannot create `" + dir.string() + "`: " + ec.message());
  dir = fs::absolute(dir).lexically_normal();
  nlohmann::json sweep = {{"format", "exp-sweep"},
                          {"source", fs::absolute(r.file).lexically_normal().string()},
                          {"created", timestamp("%Y-%m-%dT%H:%M:%S")},
                          {"overrides", r.compile.overrides},
                          {"points", nlohmann::json::array()}};
  std::string error;
  const size_t count = plans.size();
  for (size_t k = 0; k < count; ++k) {
    const std::string name = pointName(k, count);
    fs::create_directories(dir / name, ec);
    if (ec || !writeFile((dir / name / "plan.json").string(), plans[k], error))
      return noDirectory(ec ? "cannot create `" + (dir / name).string() + "`" : error);
    sweep["points"].push_back({{"index", k}, {"label", first.sweepLabels[k]}, {"dir", name}});
  }
  if (!writeFile((dir / "sweep.json").string(), sweep.dump(2) + "\n", error))
    return noDirectory(error);
  return dir;
}

// `--slurm FILE`: a job array script that runs each point as one task.
int writeSlurmArray(const SweepRequest &r, const expc::CompileOutput &first, const fs::path &dir,
                    size_t count, int parallel) {
  std::string script = fmt::format(
      "#!/bin/bash\n"
      "# The {count} points of {src} as a Slurm job array, at most {par} at once\n"
      "# (written by exp sweep). Submit it, then gather the results:\n"
      "#   jobid=$(sbatch --parsable {script})\n"
      "#   sbatch --dependency=afterany:$jobid --wrap '{exp} sweep --collect {dir}'\n"
      "#SBATCH --job-name=exp-sweep-{name}\n"
      "#SBATCH --array=0-{last}%{par}\n"
      "#SBATCH --output={dir}/slurm-%A_%a.out\n"
      "set -euo pipefail\n"
      "point=$(printf 'point-%0{width}d' \"$SLURM_ARRAY_TASK_ID\")\n"
      "exec {exp} run \"{dir}/$point/plan.json\" --run-dir \"{dir}/$point/run\" --quiet --device {device}\n",
      fmt::arg("count", count), fmt::arg("src", r.file), fmt::arg("par", parallel),
      fmt::arg("script", fs::absolute(r.slurm).lexically_normal().string()), fmt::arg("exp", selfPath()),
      fmt::arg("dir", dir.string()), fmt::arg("name", first.experimentName), fmt::arg("last", count - 1),
      fmt::arg("width", std::to_string(count - 1).size()), fmt::arg("device", r.device));
  std::string error;
  if (!writeFile(r.slurm, script, error))
    return fail(ToolError::CannotWrite, error);
  std::error_code ec;
  fs::permissions(r.slurm, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add, ec);
  std::cout << "job array script: " << r.slurm << " (sbatch it; then `exp sweep --collect " << dir.string()
            << "`)\n";
  return 0;
}

// Runs the points here, `parallel` at once sharing the threads, then
// gathers their results.
int runPointsHere(const SweepRequest &r, const expc::CompileOutput &first, const fs::path &dir,
                  size_t count, int parallel) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = std::max(1, (r.threads > 0 ? r.threads : cores) / parallel);
  std::map<pid_t, size_t> running;
  size_t next = 0, done = 0;
  while (done < count) {
    while (next < count && static_cast<int>(running.size()) < parallel) {
      pid_t pid = startPoint(dir / pointName(next, count), threads, r);
      if (pid < 0)
        return fail(ToolError::CannotStartPoint, "cannot start `exp run` for sweep point " + std::to_string(next + 1));
      running[pid] = next++;
    }
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    auto it = running.find(pid);
    if (it == running.end())
      continue;
    const size_t k = it->second;
    running.erase(it);
    ++done;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    std::cerr << fmt::format("sweep: point {}/{} ({}) {}{}\n", k + 1, count, first.sweepLabels[k],
                             ok ? "finished" : "failed: see ",
                             ok ? "" : (dir / pointName(k, count) / "output.txt").string());
  }
  return collect(dir);
}

} // namespace

int sweepCommand(const SweepRequest &r) {
  if (!r.collect.empty())
    return collect(r.collect);
  expc::CompileOutput first;
  std::vector<std::string> plans;
  if (!compilePoints(r, first, plans))
    return 1;
  const size_t count = plans.size();
  fs::path dir = r.dir.empty() ? fs::path("sweeps") / (first.experimentName + "-" + timestamp("%Y%m%d-%H%M%S"))
                               : fs::path(r.dir);
  if (fs::exists(dir))
    return fail(ToolError::SweepDirExists, "sweep directory `" + dir.string() + "` already exists; choose another with --dir");
  dir = writeSweepDirectory(r, first, plans, dir);
  if (dir.empty())
    return 1;
  std::cerr << fmt::format("sweep: {} points of {} compiled into {}\n", count, r.file, dir.string());
  const int parallel = std::max<int>(1, r.parallel > 0 ? r.parallel : static_cast<int>(first.sweepParallel));
  if (!r.slurm.empty())
    return writeSlurmArray(r, first, dir, count, parallel);
  return runPointsHere(r, first, dir, count, parallel);
}

} // namespace exptool
