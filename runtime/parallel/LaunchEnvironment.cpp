// The launch contracts data-parallel runs are started under: torchrun's
// environment (also what `exp run --nproc` sets for its ranks) and Slurm's.
#include "exprt/Runtime.h"

#include <cstdio>
#include <cstdlib>

#include <cstdlib>
#include <string>

namespace exprt {
namespace {

const char *env(const char *name) {
  const char *v = std::getenv(name);
  return v && *v ? v : nullptr;
}

// `name`'s value as an integer in [lo, hi]; an error naming it otherwise.
Status intVar(const char *name, long lo, long hi, int &out) {
  const char *v = env(name);
  char *end = nullptr;
  long x = v ? std::strtol(v, &end, 10) : 0;
  if (!v || *end || x < lo || x > hi)
    return Status::error(ErrorKind::TrainingRanks, std::string("environment variable ") + name + "=`" + (v ? v : "") +
                         "` is not an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  out = static_cast<int>(x);
  return Status::ok();
}

// The first host of a Slurm node list when it is plain (`node1,node2` or a
// single name); ranges (`node[1-4]`) need `scontrol`, so MASTER_ADDR then.
std::string firstPlainHost(const std::string &list) {
  std::string first = list.substr(0, list.find(','));
  return first.find('[') == std::string::npos ? first : "";
}

} // namespace

Status readLaunchEnvironment(SessionOptions &o, std::string &source) {
  source.clear();
  int rank = 0, world = 1;
  if (env("WORLD_SIZE") || env("RANK")) {
    source = env("TORCHELASTIC_RUN_ID") ? "torchrun" : env("EXP_NPROC_LAUNCH") ? "exp run --nproc" : "RANK/WORLD_SIZE";
    if (Status s = intVar("WORLD_SIZE", 1, 65536, world); !s)
      return s;
    if (Status s = intVar("RANK", 0, world - 1, rank); !s)
      return s;
  } else if (env("SLURM_NTASKS") && env("SLURM_PROCID")) {
    source = "slurm";
    if (Status s = intVar("SLURM_NTASKS", 1, 65536, world); !s)
      return s;
    if (Status s = intVar("SLURM_PROCID", 0, world - 1, rank); !s)
      return s;
  } else {
    return Status::ok();
  }
  o.rank = rank;
  o.worldSize = world;
  for (const char *name : {"LOCAL_RANK", "SLURM_LOCALID"})
    if (env(name)) {
      if (Status s = intVar(name, 0, 65535, o.localRank); !s)
        return s;
      break;
    }
  if (world == 1)
    return Status::ok();
  if (const char *addr = env("MASTER_ADDR")) {
    o.masterAddr = addr;
  } else if (source == "slurm" && env("SLURM_JOB_NODELIST") &&
             !firstPlainHost(env("SLURM_JOB_NODELIST")).empty()) {
    o.masterAddr = firstPlainHost(env("SLURM_JOB_NODELIST"));
  } else {
    return Status::error(ErrorKind::TrainingRanks, "a data-parallel run (" + source + ", " + std::to_string(world) +
                         " ranks) needs MASTER_ADDR, the host of rank 0 (under Slurm: "
                         "export MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1); "
                         "docs/scaling.md)");
  }
  if (env("MASTER_PORT")) {
    if (Status s = intVar("MASTER_PORT", 1, 65535, o.masterPort); !s)
      return s;
  }
  if (env("EXP_DIST_TIMEOUT"))
    if (Status s = intVar("EXP_DIST_TIMEOUT", 1, 86400, o.timeoutSeconds); !s)
      return s;
  return Status::ok();
}

void readTestHooks(TestHooks &hooks) {
  auto text = [](const char *name) {
    const char *v = std::getenv(name);
    return std::string(v ? v : "");
  };
  long long a = -1, b = -1;
  if (std::sscanf(text("EXP_INJECT_NAN").c_str(), "%lld:%lld", &a, &b) == 2) {
    hooks.nanStep = a;
    hooks.nanOp = b;
  }
  a = b = -1;
  if (std::sscanf(text("EXP_KILL_RANK").c_str(), "%lld:%lld", &a, &b) == 2) {
    hooks.killRank = static_cast<int>(a);
    hooks.killStep = b;
  }
  hooks.cudaGraphs = text("EXP_CUDA_GRAPHS") != "0";
  hooks.generatedKernels = text("EXP_GENERATED_KERNELS") != "0";
  hooks.ncclForDevices = text("EXP_DIST_BACKEND") != "gloo";
  hooks.groupOfOne = text("EXP_DIST_GROUP_OF_ONE") == "1";
}

} // namespace exprt
