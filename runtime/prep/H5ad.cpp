#include "prep/H5ad.h"

#include "features/Switches.h"

#if EXP_WITH_HDF5
#include <hdf5.h>

#include <cstdio>
#include <filesystem>
#include <mutex>

#include <cerrno>
#include <csignal>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace exprt {
namespace fs = std::filesystem;
namespace {

// An HDF5 handle closed with the right function when it goes out of scope.
class Handle {
public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(const Handle &) = delete;
  Handle &operator=(const Handle &) = delete;
  ~Handle() {
    if (id_ >= 0)
      close_(id_);
  }
  operator hid_t() const { return id_; }
  bool ok() const { return id_ >= 0; }

private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// HDF5 prints its error stack to stderr by default; errors here become Statuses.
void quiet() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

hid_t utf8String() {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

// ---- writing ----

struct Writer {
  std::string path;
  bool failed = false;
  std::string what;

  void fail(const std::string &object) {
    if (!failed)
      what = object;
    failed = true;
  }
  void check(herr_t rc, const std::string &object) {
    if (rc < 0)
      fail(object);
  }

  void strings(hid_t loc, const char *name, const std::vector<std::string> &values, bool attribute,
               bool scalar = false) {
    Handle type(utf8String(), H5Tclose);
    hsize_t n = values.size();
    Handle space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose);
    std::vector<const char *> ptrs;
    for (const std::string &v : values)
      ptrs.push_back(v.c_str());
    if (attribute) {
      Handle a(H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
      if (!a.ok())
        return fail(name);
      if (!ptrs.empty())
        check(H5Awrite(a, type, ptrs.data()), name);
    } else {
      Handle d(H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
      if (!d.ok())
        return fail(name);
      if (!ptrs.empty())
        check(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), name);
      encoding(d, "string-array", "0.2.0");
    }
  }
  void attr(hid_t loc, const char *name, const std::string &value) { strings(loc, name, {value}, true, true); }
  void encoding(hid_t loc, const char *type, const char *version) {
    attr(loc, "encoding-type", type);
    attr(loc, "encoding-version", version);
  }
  template <typename T>
  void array(hid_t loc, const char *name, const std::vector<T> &values, hid_t type,
             std::vector<hsize_t> dims = {}) {
    if (dims.empty())
      dims = {values.size()};
    Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
    Handle d(H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    if (!d.ok())
      return fail(name);
    if (!values.empty())
      check(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), name);
  }
  void frame(hid_t file, const char *name, const std::vector<std::string> &index,
             const std::vector<std::pair<std::string, std::vector<std::string>>> &columns) {
    Handle g(H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (!g.ok())
      return fail(name);
    encoding(g, "dataframe", "0.2.0");
    attr(g, "_index", "_index");
    std::vector<std::string> order;
    for (const auto &[column, values] : columns)
      order.push_back(column);
    strings(g, "column-order", order, true);
    strings(g, "_index", index, false);
    for (const auto &[column, values] : columns)
      strings(g, column.c_str(), values, false);
  }
};

// ---- reading ----

Status readError(const std::string &path, const std::string &object, const std::string &what) {
  return Status::error(ErrorKind::InputMalformed, path + ": " + object + ": " + what);
}

// Strings of a dataset or attribute (variable- or fixed-length).
bool readStrings(hid_t obj, bool attribute, std::vector<std::string> &out) {
  Handle type(attribute ? H5Aget_type(obj) : H5Dget_type(obj), H5Tclose);
  Handle space(attribute ? H5Aget_space(obj) : H5Dget_space(obj), H5Sclose);
  if (!type.ok() || !space.ok() || H5Tget_class(type) != H5T_STRING)
    return false;
  hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0)
    return false;
  out.assign(static_cast<size_t>(n), std::string());
  if (n == 0)
    return true;
  if (H5Tis_variable_str(type) > 0) {
    Handle mem(utf8String(), H5Tclose);
    std::vector<char *> ptrs(static_cast<size_t>(n), nullptr);
    herr_t rc = attribute ? H5Aread(obj, mem, ptrs.data())
                          : H5Dread(obj, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data());
    if (rc < 0)
      return false;
    for (size_t i = 0; i < ptrs.size(); ++i)
      out[i] = ptrs[i] ? ptrs[i] : "";
    H5Dvlen_reclaim(mem, space, H5P_DEFAULT, ptrs.data());
    return true;
  }
  size_t width = H5Tget_size(type);
  std::vector<char> buf(width * static_cast<size_t>(n));
  herr_t rc = attribute ? H5Aread(obj, type, buf.data())
                        : H5Dread(obj, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
  if (rc < 0)
    return false;
  for (size_t i = 0; i < out.size(); ++i) {
    const char *s = buf.data() + i * width;
    out[i].assign(s, strnlen(s, width));
  }
  return true;
}

bool stringAttr(hid_t loc, const char *name, std::vector<std::string> &out) {
  if (H5Aexists(loc, name) <= 0)
    return false;
  Handle a(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose);
  return a.ok() && readStrings(a, true, out);
}

template <typename T>
bool readNumbers(hid_t loc, const char *name, hid_t memType, std::vector<T> &out,
                 std::vector<hsize_t> *dims = nullptr) {
  Handle d(H5Dopen2(loc, name, H5P_DEFAULT), H5Dclose);
  if (!d.ok())
    return false;
  Handle space(H5Dget_space(d), H5Sclose);
  Handle type(H5Dget_type(d), H5Tclose);
  H5T_class_t cls = H5Tget_class(type);
  if (cls != H5T_INTEGER && cls != H5T_FLOAT)
    return false;
  int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> shape(static_cast<size_t>(std::max(rank, 0)));
  H5Sget_simple_extent_dims(space, shape.data(), nullptr);
  if (dims)
    *dims = shape;
  out.resize(static_cast<size_t>(H5Sget_simple_extent_npoints(space)));
  return out.empty() || H5Dread(d, memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0;
}

// A column of a data frame: strings, a categorical (codes into categories;
// -1 is missing) or numbers, as strings.
bool readColumn(hid_t frame, const std::string &name, std::vector<std::string> &out) {
  H5O_info_t info;
  if (H5Oget_info_by_name(frame, name.c_str(), &info, H5P_DEFAULT) < 0)
    return false;
  if (info.type == H5O_TYPE_GROUP) {
    Handle g(H5Gopen2(frame, name.c_str(), H5P_DEFAULT), H5Gclose);
    std::vector<std::string> categories;
    std::vector<int64_t> codes;
    {
      Handle c(H5Dopen2(g, "categories", H5P_DEFAULT), H5Dclose);
      if (!c.ok() || !readStrings(c, false, categories))
        return false;
    }
    if (!readNumbers(g, "codes", H5T_NATIVE_INT64, codes))
      return false;
    out.clear();
    for (int64_t code : codes) {
      if (code >= static_cast<int64_t>(categories.size()))
        return false;
      out.push_back(code < 0 ? "" : categories[static_cast<size_t>(code)]);
    }
    return true;
  }
  Handle d(H5Dopen2(frame, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.ok())
    return false;
  if (readStrings(d, false, out))
    return true;
  std::vector<double> numbers;
  if (!readNumbers(frame, name.c_str(), H5T_NATIVE_DOUBLE, numbers))
    return false;
  out.clear();
  for (double x : numbers) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    out.push_back(buf);
  }
  return true;
}

Status readFrame(const std::string &path, hid_t file, const char *name, std::vector<std::string> &index,
                 std::vector<std::pair<std::string, std::vector<std::string>>> &columns) {
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0)
    return readError(path, name, "missing (an AnnData file has obs and var)");
  Handle g(H5Gopen2(file, name, H5P_DEFAULT), H5Gclose);
  if (!g.ok())
    return readError(path, name, "not a group (written by anndata < 0.7?)");
  std::vector<std::string> indexName, order;
  std::string key = stringAttr(g, "_index", indexName) && !indexName.empty() ? indexName[0] : "_index";
  if (!readColumn(g, key, index))
    return readError(path, std::string(name) + "/" + key, "cannot read the index");
  stringAttr(g, "column-order", order);
  columns.clear();
  for (const std::string &c : order) {
    std::vector<std::string> values;
    if (!readColumn(g, c, values))
      return readError(path, std::string(name) + "/" + c, "cannot read the column");
    if (values.size() != index.size())
      return readError(path, std::string(name) + "/" + c,
                       std::to_string(values.size()) + " values for " + std::to_string(index.size()) + " rows");
    columns.emplace_back(c, std::move(values));
  }
  return Status::ok();
}

} // namespace

Status writeH5ad(const std::string &path, const AnnData &a) {
  quiet();
  const size_t cells = static_cast<size_t>(a.obs * a.vars);
  if ((!a.sparse && a.dense.size() != cells) ||
      (a.sparse && (a.indptr.size() != static_cast<size_t>(a.obs + 1) || a.data.size() != a.indices.size())) ||
      a.obsNames.size() != static_cast<size_t>(a.obs) || a.varNames.size() != static_cast<size_t>(a.vars))
    return Status::error(ErrorKind::Internal, path + ": inconsistent AnnData (X, obs and var sizes disagree)");
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  Writer w{tmp};
  {
    Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!file.ok())
      return Status::error(ErrorKind::OutputUnwritable, path + ": cannot create");
    w.encoding(file, "anndata", "0.1.0");
    if (a.sparse) {
      Handle x(H5Gcreate2(file, "X", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
      w.encoding(x, "csr_matrix", "0.1.0");
      std::vector<int64_t> shape{a.obs, a.vars};
      hsize_t two = 2;
      Handle space(H5Screate_simple(1, &two, nullptr), H5Sclose);
      Handle attr(H5Acreate2(x, "shape", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
      w.check(attr.ok() ? H5Awrite(attr, H5T_NATIVE_INT64, shape.data()) : -1, "X/shape");
      w.array(x, "data", a.data, H5T_NATIVE_FLOAT);
      w.array(x, "indices", a.indices, H5T_NATIVE_INT32);
      w.array(x, "indptr", a.indptr, H5T_NATIVE_INT64);
    } else {
      w.array(file, "X", a.dense, H5T_NATIVE_FLOAT, {static_cast<hsize_t>(a.obs), static_cast<hsize_t>(a.vars)});
      Handle x(H5Dopen2(file, "X", H5P_DEFAULT), H5Dclose);
      if (x.ok())
        w.encoding(x, "array", "0.2.0");
    }
    w.frame(file, "obs", a.obsNames, a.obsColumns);
    w.frame(file, "var", a.varNames, a.varColumns);
    for (const char *empty : {"obsm", "varm", "obsp", "varp", "layers", "uns"}) {
      Handle g(H5Gcreate2(file, empty, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
      w.encoding(g, "dict", "0.1.0");
    }
    if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
      w.fail("(flush)");
  }
  std::error_code ec;
  if (w.failed) {
    fs::remove(tmp, ec);
    return Status::error(ErrorKind::OutputUnwritable, path + ": cannot write " + w.what + " (the disk is full?)");
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Status::error(ErrorKind::OutputUnwritable, path + ": cannot rename into place");
  }
  return Status::ok();
}

namespace {

Status readH5adHere(const std::string &path, AnnData &a) {
  quiet();
  a = AnnData();
  if (!fs::exists(path))
    return Status::error(ErrorKind::InputUnreadable, path + ": missing");
  if (H5Fis_hdf5(path.c_str()) <= 0)
    return Status::error(ErrorKind::InputMalformed, path + ": not an HDF5 file (an .h5ad is HDF5; a truncated download?)");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok())
    return Status::error(ErrorKind::InputMalformed, path + ": cannot open as HDF5 (truncated or damaged)");
  if (Status s = readFrame(path, file, "obs", a.obsNames, a.obsColumns); !s)
    return s;
  if (Status s = readFrame(path, file, "var", a.varNames, a.varColumns); !s)
    return s;
  a.obs = static_cast<int64_t>(a.obsNames.size());
  a.vars = static_cast<int64_t>(a.varNames.size());
  H5O_info_t info;
  if (H5Lexists(file, "X", H5P_DEFAULT) <= 0 || H5Oget_info_by_name(file, "X", &info, H5P_DEFAULT) < 0)
    return readError(path, "X", "missing");
  const std::string shapeNote = " for " + std::to_string(a.obs) + " obs x " + std::to_string(a.vars) + " var";
  if (info.type == H5O_TYPE_DATASET) {
    std::vector<hsize_t> dims;
    if (!readNumbers(file, "X", H5T_NATIVE_FLOAT, a.dense, &dims))
      return readError(path, "X", "cannot read a numeric matrix");
    if (dims.size() != 2 || dims[0] != static_cast<hsize_t>(a.obs) || dims[1] != static_cast<hsize_t>(a.vars))
      return readError(path, "X", "shape does not match obs and var" + shapeNote);
    return Status::ok();
  }
  Handle x(H5Gopen2(file, "X", H5P_DEFAULT), H5Gclose);
  std::vector<std::string> type;
  if (!stringAttr(x, "encoding-type", type) || type.empty() || type[0] != "csr_matrix")
    return readError(path, "X", "a sparse matrix encoded as `" + (type.empty() ? std::string("?") : type[0]) +
                                    "`; only csr_matrix is read (convert with adata.X = adata.X.tocsr())");
  a.sparse = true;
  if (!readNumbers(x, "data", H5T_NATIVE_FLOAT, a.data) || !readNumbers(x, "indices", H5T_NATIVE_INT32, a.indices) ||
      !readNumbers(x, "indptr", H5T_NATIVE_INT64, a.indptr))
    return readError(path, "X", "cannot read data, indices and indptr");
  if (a.indptr.size() != static_cast<size_t>(a.obs + 1) || a.data.size() != a.indices.size() ||
      a.indptr.front() != 0 || a.indptr.back() != static_cast<int64_t>(a.data.size()))
    return readError(path, "X", "indptr, indices and data do not agree" + shapeNote);
  for (size_t i = 1; i < a.indptr.size(); ++i)
    if (a.indptr[i] < a.indptr[i - 1])
      return readError(path, "X/indptr", "decreases at row " + std::to_string(i - 1));
  for (int32_t j : a.indices)
    if (j < 0 || j >= a.vars)
      return readError(path, "X/indices", "column " + std::to_string(j) + " out of range" + shapeNote);
  return Status::ok();
}

// A pipe between the reading child and the parent: the child's Status and
// AnnData, as length-prefixed fields. A short read (the child died) makes
// every later read fail.
class Wire {
public:
  explicit Wire(int fd) : fd_(fd) {}
  bool ok() const { return ok_; }
  void raw(const void *p, size_t n) {
    for (const char *c = static_cast<const char *>(p); ok_ && n > 0;) {
      const ssize_t k = ::write(fd_, c, n);
      ok_ = k > 0 || (k < 0 && errno == EINTR);
      c += k > 0 ? k : 0;
      n -= k > 0 ? size_t(k) : 0;
    }
  }
  void rawIn(void *p, size_t n) {
    for (char *c = static_cast<char *>(p); ok_ && n > 0;) {
      const ssize_t k = ::read(fd_, c, n);
      ok_ = k > 0 || (k < 0 && errno == EINTR);
      c += k > 0 ? k : 0;
      n -= k > 0 ? size_t(k) : 0;
    }
  }
  template <typename T> void put(const std::vector<T> &v) {
    put(uint64_t(v.size()));
    raw(v.data(), v.size() * sizeof(T));
  }
  void put(uint64_t n) { raw(&n, sizeof n); }
  void put(const std::string &s) {
    put(uint64_t(s.size()));
    raw(s.data(), s.size());
  }
  void put(const std::vector<std::string> &v) {
    put(uint64_t(v.size()));
    for (const std::string &s : v)
      put(s);
  }
  void put(const std::vector<std::pair<std::string, std::vector<std::string>>> &columns) {
    put(uint64_t(columns.size()));
    for (const auto &[name, values] : columns) {
      put(name);
      put(values);
    }
  }
  uint64_t size() {
    uint64_t n = 0;
    rawIn(&n, sizeof n);
    ok_ = ok_ && n < (uint64_t(1) << 40); // nothing this reader writes is larger
    return ok_ ? n : 0;
  }
  template <typename T> void get(std::vector<T> &v) {
    v.resize(size());
    rawIn(v.data(), v.size() * sizeof(T));
  }
  void get(std::string &s) {
    s.resize(size());
    rawIn(s.data(), s.size());
  }
  void get(std::vector<std::string> &v) {
    v.resize(size());
    for (std::string &s : v)
      get(s);
  }
  void get(std::vector<std::pair<std::string, std::vector<std::string>>> &columns) {
    columns.resize(size());
    for (auto &[name, values] : columns) {
      get(name);
      get(values);
    }
  }

private:
  int fd_;
  bool ok_ = true;
};

// The AnnData's variable-size fields, in the order both ends use.
template <typename A, typename F> void eachField(A &a, F &&f) {
  f(a.dense);
  f(a.data);
  f(a.indices);
  f(a.indptr);
  f(a.obsNames);
  f(a.varNames);
  f(a.obsColumns);
  f(a.varColumns);
}

void send(Wire &w, const Status &s, const AnnData &a) {
  w.put(uint64_t(s.kind()));
  w.put(s.message());
  w.put(std::vector<int64_t>{a.obs, a.vars, a.sparse ? 1 : 0});
  eachField(a, [&](const auto &field) { w.put(field); });
}

bool receive(Wire &w, Status &s, AnnData &a) {
  const uint64_t kind = w.size();
  std::string message;
  w.get(message);
  std::vector<int64_t> shape;
  w.get(shape);
  if (!w.ok() || shape.size() != 3)
    return false;
  if (kind >= uint64_t(kErrorKindCount))
    return false;
  s = kind == uint64_t(ErrorKind::None) ? Status::ok() : Status::error(ErrorKind(kind), message);
  a.obs = shape[0];
  a.vars = shape[1];
  a.sparse = shape[2] != 0;
  eachField(a, [&](auto &field) { w.get(field); });
  return w.ok();
}

// readH5adHere with what a damaged file can throw (a size read from it too
// large to allocate) answered as an error.
Status readH5adCaught(const std::string &path, AnnData &a) {
  try {
    return readH5adHere(path, a);
  } catch (const std::exception &e) {
    a = AnnData();
    return Status::error(ErrorKind::InputMalformed, path + ": damaged: " + e.what());
  }
}

// The child's CPU budget for reading `path`, from its size.
rlim_t cpuBudgetSeconds(const std::string &path) {
  std::error_code ec;
  const uintmax_t bytes = std::filesystem::file_size(path, ec);
  return 2 + (ec ? 0 : rlim_t(bytes / 10'000'000));
}

} // namespace

// libhdf5 can crash on a damaged file (variable-length strings whose heap
// references were flipped, seen in issue 31) instead of returning an error,
// so the file is read in a child process and its result sent back through a
// pipe: a child that dies is a damaged file, named, and the run goes on to
// fail cleanly instead of dying with its run.json saying `running`. Other
// damage sends libhdf5 round a loop for ever, so the child also has a CPU
// budget: CPU time, not wall time, so that a loaded machine does not turn a
// good file into a refusal; generous (2 s plus 1 s per 10 MB, where a good
// file takes milliseconds per megabyte).
Status readH5ad(const std::string &path, AnnData &a) {
  a = AnnData();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return readH5adCaught(path, a);
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return readH5adCaught(path, a);
  }
  const rlim_t budget = cpuBudgetSeconds(path);
  if (child == 0) { // only HDF5 and the pipe; no destructors, no atexit
    ::close(fds[0]);
    const struct rlimit cpu = {budget, budget + 1}, noCore = {0, 0};
    ::setrlimit(RLIMIT_CPU, &cpu);
    ::setrlimit(RLIMIT_CORE, &noCore); // a crash here is an answer, not a bug to keep
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGXCPU})
      ::signal(sig, SIG_DFL); // nor one for the host's crash reporter
    try { // nothing may unwind past here into the parent's code
      Wire w(fds[1]);
      AnnData read;
      Status s = readH5adCaught(path, read);
      send(w, s, read);
      ::_exit(w.ok() ? 0 : 1);
    } catch (...) {
      ::_exit(1);
    }
  }
  ::close(fds[1]);
  Wire w(fds[0]);
  Status s = Status::ok();
  const bool received = receive(w, s, a);
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (received && WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return s;
  a = AnnData();
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU)
    return Status::error(ErrorKind::InputMalformed, path + ": damaged: the HDF5 library was still reading it after " +
                                                        std::to_string(budget) + " s of CPU time");
  if (WIFSIGNALED(status))
    return Status::error(ErrorKind::InputMalformed, path + ": damaged: the HDF5 library crashed reading it (signal " +
                                                        std::to_string(WTERMSIG(status)) + ")");
  return Status::error(ErrorKind::InputMalformed, path + ": damaged: it could not be read whole");
}

} // namespace exprt
#else
namespace exprt {

Status writeH5ad(const std::string &path, const AnnData &) { return missingFeature(BuildFeature::Hdf5, path); }
Status readH5ad(const std::string &path, AnnData &) { return missingFeature(BuildFeature::Hdf5, path); }

} // namespace exprt
#endif
