#include "prep/H5ad.h"

#include <hdf5.h>

#include <cstdio>
#include <filesystem>
#include <mutex>

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
  return Status::error(path + ": " + object + ": " + what);
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
    return Status::error(path + ": inconsistent AnnData (X, obs and var sizes disagree)");
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  Writer w{tmp};
  {
    Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!file.ok())
      return Status::error(path + ": cannot create");
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
    return Status::error(path + ": cannot write " + w.what + " (the disk is full?)");
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Status::error(path + ": cannot rename into place");
  }
  return Status::ok();
}

Status readH5ad(const std::string &path, AnnData &a) {
  quiet();
  a = AnnData();
  if (!fs::exists(path))
    return Status::error(path + ": missing");
  if (H5Fis_hdf5(path.c_str()) <= 0)
    return Status::error(path + ": not an HDF5 file (an .h5ad is HDF5; a truncated download?)");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok())
    return Status::error(path + ": cannot open as HDF5 (truncated or damaged)");
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

} // namespace exprt
