// libFuzzer targets over the runtime's readers of outside files (issue 31):
// one binary, the reader chosen by EXP_FUZZ_READER (see kReaders below; the
// bounded runs and the seed corpora are in tests/tools/run_readers_fuzz.sh).
// Properties checked beyond "no crash, hang, leak or sanitizer report":
//   - a refusal is a classified error (never ErrorKind::None) whose message
//     starts with the file's name, so the user is told which file;
//   - a reader that answers "ok" produced something consistent (an image's
//     samples fill its size, a table's rows have the header's width).
// Readers that take a path get the input written to a scratch file first.
#include "plan/Plan.h"
#include "prep/Archive.h"
#include "prep/Csv.h"
#include "prep/H5ad.h"
#include "prep/Image.h"
#include "prep/Jpeg2000.h"
#include "prep/Npy.h"
#include "prep/Profiles.h"
#include "record/SafeTensors.h"
#include "train/CheckpointManifest.h"

#include "RunRecord.h" // tools/run

#include <sanitizer/common_interface_defs.h>
#include <sqlite3.h>
#include <torch/torch.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <tuple>

#include <pthread.h>
#include <unistd.h>

using namespace exprt;

namespace {

[[noreturn]] void finding(const char *what, const std::string &detail) {
  std::fprintf(stderr, "readers fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

// A refusal must be classified and name `name` first.
void checkRefusal(const Status &s, const std::string &name) {
  if (s)
    return;
  if (s.kind() == ErrorKind::None)
    finding("unclassified error", s.message());
  if (s.message().rfind(name, 0) != 0)
    finding("error not naming the file", s.message());
}

void checkImage(const Status &s, const Image &im, const std::string &name) {
  checkRefusal(s, name);
  if (s && uint64_t(im.width) * im.height * im.channels * (im.bits / 8) != im.data.size())
    finding("image samples do not fill its size", name);
}

std::string scratch(const std::string &name, const std::string &bytes) {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/exp-readers-fuzz-XXXXXX";
    const char *made = ::mkdtemp(tmpl);
    if (!made)
      finding("no scratch directory", std::strerror(errno));
    return std::string(made);
  }();
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size()));
  return path;
}

void fuzzPng(const std::string &b) {
  Image im;
  checkImage(decodePng(b, "site.png", im), im, "site.png");
}
void fuzzTiff(const std::string &b) {
  const std::string path = scratch("site.tif", b);
  Image im;
  checkImage(readTiff(path, im), im, path);
}
void fuzzJp2(const std::string &b) {
  Image im;
  checkImage(decodeJpeg2000(b, "site.jp2", im), im, "site.jp2");
}
void fuzzNpy(const std::string &b) {
  torch::Tensor t;
  checkRefusal(decodeNpy("array.npy", b, t), "array.npy");
}
void fuzzNpz(const std::string &b) {
  const std::string path = scratch("site.npz", b);
  Image im;
  checkImage(readNpzImage(path, im), im, path);
}
void fuzzTar(const std::string &b) {
  const std::string path = scratch("shard.tar", b);
  Status s = readArchive(path, [](const std::string &name, const std::string &bytes) {
    Image im;
    if (name.size() > 4 && (name.rfind(".png") == name.size() - 4 || name.rfind(".jp2") == name.size() - 4))
      checkImage(decodeImage(bytes, name, im), im, name);
    return true;
  });
  checkRefusal(s, path);
}
void fuzzCsv(const std::string &b, char delimiter) {
  const std::string path = scratch(delimiter == '\t' ? "table.tsv" : "table.csv", b);
  CsvTable t;
  Status s = readCsv(path, t, delimiter);
  checkRefusal(s, path);
  if (s)
    for (const auto &row : t.rows)
      if (row.size() != t.header.size())
        finding("a row without the header's width", path);
}
void fuzzProfilesCsv(const std::string &b) {
  const std::string path = scratch("profiles.csv", b);
  Profiles p;
  checkRefusal(readProfilesCsv(path, p), path);
}
void fuzzSqlite(const std::string &b) {
  const std::string path = scratch("profiles.sqlite", b);
  Profiles p;
  checkRefusal(readProfilesSqlite(path, "Image", p), path);
}
void fuzzH5ad(const std::string &b) {
  const std::string path = scratch("cells.h5ad", b);
  AnnData a;
  Status s = readH5ad(path, a);
  checkRefusal(s, path);
  // Not a finding: a child that stops without an answer. libhdf5 corrupts
  // the heap on some damaged files (or copies past a buffer, sizes read from
  // the damage); a normal build's child then dies of SIGSEGV or SIGABRT, this
  // build's of ASan's report (exit 1; forgetFuzzerInChild keeps libFuzzer out
  // of it). Both reach the user as the same clean refusal, which checkRefusal
  // checked.
}
void fuzzSafeTensors(const std::string &b) {
  SafeTensors f;
  checkRefusal(decodeSafeTensors("weights.safetensors", b, f), "weights.safetensors");
}
void fuzzPlan(const std::string &b) {
  Plan plan;
  checkRefusal(readPlan(b, "plan.json", plan), "plan.json");
}
void fuzzManifest(const std::string &b) {
  const std::string path = scratch("manifest.json", b);
  TrainSpec spec;
  spec.schedule = "reduce_on_plateau";
  std::unique_ptr<Schedule> schedule;
  if (!Schedule::create(spec, 1e-3, 100, schedule))
    finding("no schedule", "reduce_on_plateau");
  TrainState state;
  std::string sha;
  checkRefusal(readCheckpointManifest(path, "plan-sha", *schedule, state, sha), path);
}
// A run directory's run.json as `exp run --resume` reads it: a record it
// accepts must give every field it reads back without a type error.
void fuzzRunRecord(const std::string &b) {
  nlohmann::json doc;
  std::string error;
  if (!exptool::parseRunRecord(b, "run.json", doc, error)) {
    if (error.rfind("run.json: not a valid run record: ", 0) != 0)
      finding("error not naming the file", error);
    return;
  }
  const exptool::RunRecordFields f = exptool::runRecordFields(doc);
  if (f.threads < 1 || f.checkpointEvery < 0 || f.dataWorkers < 0)
    finding("an accepted record out of range", doc.dump().substr(0, 200));
}

// --- seeds: small valid files of each kind, written by the project's own
// writers (EXP_FUZZ_SEEDS=DIR writes them under DIR/<reader>/ and exits).

std::string slurp(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Image sample(int64_t w, int64_t h, int64_t c, int bits) {
  Image im;
  im.width = w, im.height = h, im.channels = c, im.bits = bits;
  im.data.resize(size_t(w * h * c * (bits / 8)));
  for (size_t i = 0; i < im.data.size(); ++i)
    im.data[i] = uint8_t(i * 37 + 11);
  return im;
}

// NumPy's format: magic, version 1.0, a header dict padded to 64 bytes.
std::string npy(const std::string &descr, const std::string &shape, size_t bytes) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + dict.size() + 1) % 64)
    dict += ' ';
  dict += '\n';
  std::string out = "\x93NUMPY\x01";
  out += '\0';
  out += char(dict.size() & 0xff);
  out += char(dict.size() >> 8);
  out += dict;
  for (size_t i = 0; i < bytes; ++i)
    out += char(i * 7);
  return out;
}

void must(const Status &s) {
  if (!s)
    finding("cannot write a seed", s.message());
}

void writeSeeds(const std::string &root) {
  auto put = [&](const std::string &reader, const std::string &name, const std::string &bytes) {
    const std::string dir = root + "/" + reader;
    std::string cmd = "mkdir -p '" + dir + "'";
    if (std::system(cmd.c_str()) != 0)
      finding("cannot make", dir);
    std::ofstream(dir + "/" + name, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  };
  const std::string tmp = scratch("seed", "");
  for (auto [w, h, c, bits] : {std::tuple{4, 3, 1, 8}, {5, 2, 3, 16}, {3, 3, 3, 8}}) {
    const std::string tag = std::to_string(w) + "x" + std::to_string(c) + "x" + std::to_string(bits);
    Image im = sample(w, h, c, bits);
    const Image grey = sample(w, h, 1, bits); // the PNG and JPEG 2000 writers' images are grey
    must(writePng(tmp + ".png", grey));
    put("png", tag + ".png", slurp(tmp + ".png"));
    must(writeTiff(tmp + ".tif", im));
    put("tiff", tag + ".tif", slurp(tmp + ".tif"));
    std::string j2k;
    must(encodeJpeg2000(grey, j2k));
    put("jp2", tag + ".jp2", j2k);
    must(writeTar(tmp + ".tar", {{"a/site.png", slurp(tmp + ".png")}, {"a/site.jp2", j2k}, {"a/meta.json", "{}"}}));
    put("tar", tag + ".tar", slurp(tmp + ".tar"));
  }
  put("npy", "u1.npy", npy("|u1", "(2, 3, 1)", 6));
  put("npy", "f4.npy", npy("<f4", "(3,)", 12));
  put("npy", "u2.npy", npy("<u2", "(2, 2, 2)", 16));
  must(writeTar(tmp + ".tar", {{"sample.npy", npy("|u1", "(2, 3, 1)", 6)}}));
  put("npz", "sample.npz", slurp(tmp + ".tar")); // an archive libarchive reads as the .npz's
  const std::vector<std::vector<std::string>> rows = {{"P1", "A01", "0.5", "1e-3"}, {"P1", "\"B,02\"", "NA", "-2"}};
  must(writeCsv(tmp + ".csv", {"Metadata_Plate", "Metadata_Well", "f1", "f2"}, rows));
  put("csv", "table.csv", slurp(tmp + ".csv"));
  put("profiles-csv", "profiles.csv", slurp(tmp + ".csv"));
  must(writeCsv(tmp + ".tsv", {"Metadata_Plate", "Metadata_Well", "f1", "f2"}, rows, '\t'));
  put("tsv", "table.tsv", slurp(tmp + ".tsv"));
  AnnData a;
  a.obs = 2, a.vars = 3;
  a.dense = {1, 0, 2, 0, 3, 0};
  a.obsNames = {"c1", "c2"}, a.varNames = {"G1", "G2", "G3"};
  a.obsColumns = {{"cell_line", {"HUVEC", "U2OS"}}};
  must(writeH5ad(tmp + ".h5ad", a));
  put("h5ad", "dense.h5ad", slurp(tmp + ".h5ad"));
  a.sparse = true, a.dense.clear();
  a.data = {1, 2, 3}, a.indices = {0, 2, 1}, a.indptr = {0, 2, 3};
  must(writeH5ad(tmp + ".h5ad", a));
  put("h5ad", "sparse.h5ad", slurp(tmp + ".h5ad"));
  sqlite3 *db = nullptr;
  std::remove((tmp + ".sqlite").c_str());
  if (sqlite3_open((tmp + ".sqlite").c_str(), &db) != SQLITE_OK ||
      sqlite3_exec(db,
                   "CREATE TABLE Image (Metadata_Plate TEXT, Metadata_Well TEXT, ImageNumber INTEGER, f1 REAL, f2 REAL);"
                   "INSERT INTO Image VALUES ('P1', 'A01', 1, 0.5, NULL), ('P1', 'B02', 2, -1.25, 3.0);",
                   nullptr, nullptr, nullptr) != SQLITE_OK)
    finding("cannot write a seed", "profiles.sqlite");
  sqlite3_close(db);
  put("sqlite", "profiles.sqlite", slurp(tmp + ".sqlite"));
  SafeTensors f;
  f.tensors["w"] = torch::arange(6, torch::kFloat32).reshape({2, 3});
  f.tensors["i"] = torch::arange(4, torch::kInt64);
  f.tensors["h"] = torch::ones({2}, torch::kFloat16);
  f.tensors["e"] = torch::zeros({0, 3}); // empty: no bytes, a null data pointer
  f.metadata["format"] = "pt";
  std::string st;
  must(encodeSafeTensors("seed.safetensors", f, st));
  put("safetensors", "weights.safetensors", st);
  put("manifest", "manifest.json",
      R"({"format": "exp-checkpoint", "format_version": 1, "plan_sha256": "plan-sha", "step": 4, "batch": 8,)"
      R"( "epoch_loss_sum": 1.5, "epoch_batches": 2, "early_stopping": {"best_epoch": 1, "best_val_loss": 0.3,)"
      R"( "bad_epochs": 0, "stopped": false}, "schedule": {"lr": 0.001, "best": 0.2, "bad_steps": 1},)"
      R"( "state_sha256": "abc"})");
  put("run-record", "run.json",
      R"({"status": "running", "threads": 2, "checkpoint_every": 50, "device": "cpu", "data_workers": 1,)"
      R"( "started": "2026-12-07T10:00:00", "started_ms": 1796637600000, "resumed": ["2026-12-07T11:00:00"],)"
      R"( "mlruns": "/tmp/mlruns", "mlflow_run_id": "0123abcd", "experiment": "exp", "source": "a.exp",)"
      R"( "feature_cache": "/tmp/c/features", "data_cache": "/tmp/c/data", "nproc": 2})");
  put("run-record", "minimal.json", R"({"status": "failed", "threads": 1, "checkpoint_every": 0, "error": "x"})");
}

struct Reader {
  const char *name;
  void (*run)(const std::string &bytes);
};
const Reader kReaders[] = {
    {"png", fuzzPng},
    {"tiff", fuzzTiff},
    {"jp2", fuzzJp2},
    {"npy", fuzzNpy},
    {"npz", fuzzNpz},
    {"tar", fuzzTar},
    {"csv", [](const std::string &b) { fuzzCsv(b, ','); }},
    {"tsv", [](const std::string &b) { fuzzCsv(b, '\t'); }},
    {"profiles-csv", fuzzProfilesCsv},
    {"sqlite", fuzzSqlite},
    {"h5ad", fuzzH5ad},
    {"safetensors", fuzzSafeTensors},
    {"plan", fuzzPlan},
    {"manifest", fuzzManifest},
    {"run-record", fuzzRunRecord},
};

const Reader *chosen = nullptr;

} // namespace

// A size read from a damaged file may ask for more memory than there is:
// the readers answer the std::bad_alloc that a normal build throws, so the
// sanitizer's allocator must throw it too instead of stopping the process
// (in the .h5ad reader's child that would look like a child with no answer).
extern "C" const char *__asan_default_options() { return "allocator_may_return_null=1"; }

// A reader's own child process (the .h5ad reader reads in one) that dies of
// a sanitizer report has answered: its parent turns the death into a
// refusal, checked above. libFuzzer's death callback, inherited through
// fork, would instead save the input as a crash of the fuzzer itself (seen in
// CI: a memcpy inside libhdf5 with a size read from the damage).
static void forgetFuzzerInChild() { __sanitizer_set_death_callback(nullptr); }

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  ::pthread_atfork(nullptr, nullptr, forgetFuzzerInChild);
  if (const char *seeds = std::getenv("EXP_FUZZ_SEEDS")) {
    writeSeeds(seeds);
    std::exit(0);
  }
  const char *name = std::getenv("EXP_FUZZ_READER");
  if (name && std::strcmp(name, "list") == 0) { // for the suite's check that each has a test
    for (const Reader &r : kReaders)
      std::printf("%s\n", r.name);
    std::exit(0);
  }
  for (const Reader &r : kReaders)
    if (name && std::strcmp(name, r.name) == 0)
      chosen = &r;
  if (!chosen) {
    std::fprintf(stderr, "set EXP_FUZZ_READER to one of:");
    for (const Reader &r : kReaders)
      std::fprintf(stderr, " %s", r.name);
    std::fprintf(stderr, "\n");
    std::exit(2);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 20)
    return -1; // the readers' limits are tested elsewhere; keep runs fast
  chosen->run(std::string(reinterpret_cast<const char *>(data), size));
  return 0;
}
