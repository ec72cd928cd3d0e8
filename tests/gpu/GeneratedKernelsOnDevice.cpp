// exp-gpu-check-kernels PLAN.json: runs every generated kernel of a `cuda`
// plan on GPU 0 through the driver API (gpu/CudaDriver) and compares it
// with the group's ops in float64 LibTorch on the CPU: the forward results,
// and the backward's input gradients against autograd's (a scalar input's
// per-element gradients summed, as the runtime will). Exits 77 (ctest's
// skip) when there is no driver or GPU, 1 on a mismatch.
#include "gpu/CudaDriver.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>
#include <iostream>
#include <map>
#include <set>

using nlohmann::json;
using exprt::Status;
using exprt::gpu::CudaDriver;

namespace {

constexpr int kSkip = 77;
constexpr int64_t kElements = 4099; // not a multiple of the block

torch::Tensor referenceOp(const std::string &op, const std::vector<torch::Tensor> &x) {
  if (op == "add") return x[0] + x[1];
  if (op == "sub") return x[0] - x[1];
  if (op == "mul") return x[0] * x[1];
  if (op == "exp") return x[0].exp();
  if (op == "tanh") return x[0].tanh();
  if (op == "sigmoid") return x[0].sigmoid();
  if (op == "relu") return x[0].relu();
  if (op == "gelu") return torch::gelu(x[0]);
  throw std::runtime_error("no reference for `" + op + "`");
}

// Values of `graph` that are rank 0: constants, scalar parameters, scalar inputs.
std::set<int64_t> scalarValues(const json &plan, const json &graph) {
  std::map<std::string, bool> scalarParam;
  for (const json &p : plan["parameters"])
    scalarParam[p["name"]] = p["shape"].empty();
  std::set<int64_t> out;
  for (const json &in : graph["inputs"])
    if (in["shape"].empty())
      out.insert(in["id"].get<int64_t>());
  for (const json &op : graph["ops"])
    if (op["op"] == "constant" ||
        (op["op"] == "param" && scalarParam[op["attrs"]["parameter"].get<std::string>()]))
      out.insert(op["results"][0].get<int64_t>());
  return out;
}

struct Buffer {
  CudaDriver &d;
  uint64_t ptr = 0;
  size_t bytes;
  Buffer(CudaDriver &d, size_t n, Status &s) : d(d), bytes(n * sizeof(float)) {
    if (s)
      s = d.alloc(bytes, ptr);
  }
  ~Buffer() {
    if (ptr)
      d.free(ptr);
  }
};

// Checks kernel `name` on the group `f` of `graph`; false on a mismatch.
bool checkKernel(CudaDriver &d, const json &plan, const json &graph, const json &f,
                 const std::string &name, int block) {
  std::set<int64_t> scalars = scalarValues(plan, graph);
  const auto &inputs = f["inputs"], &outputs = f["outputs"];
  torch::manual_seed(5);
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  std::map<int64_t, torch::Tensor> val;
  std::vector<torch::Tensor> in64, in32;
  for (const json &v : inputs) {
    bool scalar = scalars.count(v.get<int64_t>()) > 0;
    torch::Tensor x = (torch::rand(scalar ? std::vector<int64_t>{} : std::vector<int64_t>{kElements}, f64) * 6 - 3)
                          .to(torch::kFloat32).to(torch::kFloat64).requires_grad_(true);
    val[v.get<int64_t>()] = x;
    in64.push_back(x);
    in32.push_back(x.detach().to(torch::kFloat32).reshape({-1}).contiguous());
  }
  for (int64_t k = f["first"]; k < f["first"].get<int64_t>() + f["count"].get<int64_t>(); ++k) {
    const json &op = graph["ops"][k];
    std::vector<torch::Tensor> x;
    for (const json &o : op["operands"])
      x.push_back(val.at(o.get<int64_t>()));
    val[op["results"][0].get<int64_t>()] = referenceOp(op["op"].get<std::string>(), x);
  }
  std::vector<torch::Tensor> out64, gout32;
  torch::Tensor total = torch::zeros({}, f64);
  for (const json &v : outputs) {
    torch::Tensor y = val.at(v.get<int64_t>());
    torch::Tensor g = (torch::rand({kElements}, f64) * 2 - 1).to(torch::kFloat32);
    gout32.push_back(g);
    out64.push_back(y.detach());
    total = total + (y * g.to(torch::kFloat64)).sum();
  }
  total.backward();

  Status s = Status::ok();
  std::vector<std::unique_ptr<Buffer>> bufs;
  auto upload = [&](const torch::Tensor &t) {
    bufs.push_back(std::make_unique<Buffer>(d, size_t(t.numel()), s));
    if (s)
      s = d.toDevice(bufs.back()->ptr, t.data_ptr<float>(), bufs.back()->bytes);
    return bufs.back().get();
  };
  auto fresh = [&]() {
    bufs.push_back(std::make_unique<Buffer>(d, size_t(kElements), s));
    return bufs.back().get();
  };
  std::vector<Buffer *> inB, outB, goutB, ginB;
  for (auto &t : in32) inB.push_back(upload(t));
  for (size_t j = 0; j < outputs.size(); ++j) outB.push_back(fresh());
  for (auto &t : gout32) goutB.push_back(upload(t));
  for (size_t k = 0; k < inputs.size(); ++k) ginB.push_back(fresh());
  int64_t n = kElements;
  unsigned grid = unsigned((n + block - 1) / block);
  auto argsOf = [&](std::initializer_list<std::vector<Buffer *> *> groups) {
    std::vector<void *> args;
    for (auto *g : groups)
      for (Buffer *b : *g)
        args.push_back(&b->ptr);
    args.push_back(&n);
    return args;
  };
  if (s)
    s = d.launch(name, grid, block, argsOf({&inB, &outB}));
  if (s)
    s = d.launch(name + "_grad", grid, block, argsOf({&inB, &goutB, &ginB}));
  if (!s) {
    std::cerr << name << ": " << s.message() << "\n";
    return false;
  }
  auto download = [&](Buffer *b) {
    torch::Tensor t = torch::empty({kElements}, torch::kFloat32);
    s = d.toHost(t.data_ptr<float>(), b->ptr, b->bytes);
    return t.to(torch::kFloat64);
  };
  double fErr = 0, bErr = 0;
  for (size_t j = 0; j < outputs.size(); ++j) {
    torch::Tensor y = out64[j].expand({kElements});
    fErr = std::max(fErr, ((download(outB[j]) - y).abs() / (1 + y.abs())).max().item<double>());
  }
  for (size_t k = 0; k < inputs.size(); ++k) {
    torch::Tensor g = download(ginB[k]);
    torch::Tensor want = in64[k].grad();
    if (in64[k].dim() == 0)
      g = g.sum(); // the runtime's sum of a scalar's per-element gradients
    bErr = std::max(bErr, ((g - want).abs() / (1 + want.abs())).max().item<double>());
  }
  bool ok = fErr < 1e-5 && bErr < 1e-4 && s;
  std::cout << (ok ? "ok   " : "FAIL ") << name << ": " << f["count"] << " ops, forward max rel err "
            << fErr << ", backward " << bErr << "\n";
  return ok;
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::cerr << "usage: exp-gpu-check-kernels PLAN.json (compiled with --target cuda)\n";
    return 2;
  }
  std::ifstream file(argv[1]);
  json plan = json::parse(file, nullptr, false);
  if (plan.is_discarded() || !plan.contains("gpu")) {
    std::cerr << argv[1] << ": not a plan with GPU kernels (compile with --target cuda)\n";
    return 2;
  }
  Status s = Status::ok();
  std::unique_ptr<CudaDriver> d = CudaDriver::open(0, s);
  if (!d) {
    std::cout << "skipped: " << s.message() << "\n";
    return kSkip;
  }
  if (s = d->loadModule(plan["gpu"]["ptx"].get<std::string>()); !s) {
    std::cerr << argv[1] << ": " << s.message() << "\n";
    return 1;
  }
  std::cout << "device: " << d->deviceName() << "\n";
  std::set<std::string> done;
  bool ok = true;
  for (auto &[graphName, graph] : plan["graphs"].items())
    for (const json &f : graph.value("fusions", json::array()))
      if (f.contains("kernel") && done.insert(f["kernel"].get<std::string>()).second)
        ok &= checkKernel(*d, plan, graph, f, f["kernel"], plan["gpu"]["block"].get<int>());
  return ok ? 0 : 1;
}
