#include "imports/Imports.h"

#include "parse/Parser.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/SHA256.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#ifndef EXP_STDLIB_DIR
#error "the build defines EXP_STDLIB_DIR"
#endif

namespace fs = std::filesystem;

namespace expc {

std::string stdlibDirectory() {
  if (const char *env = std::getenv("EXP_STDLIB"); env && *env)
    return env;
  return EXP_STDLIB_DIR;
}

std::string sha256Hex(const std::string &bytes) {
  auto digest = llvm::SHA256::hash(llvm::ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size()));
  std::string hex;
  for (uint8_t b : digest)
    hex += fmt::format("{:02x}", b);
  return hex;
}

ModuleSet::ModuleSet(SourceManager &sources, DiagnosticEngine &diags, std::string stdlibDir)
    : sources_(sources), diags_(diags), stdlibDir_(std::move(stdlibDir)) {}

int ModuleSet::loadRoot(const std::string &path) {
  FileId file = 0;
  std::string error;
  if (!sources_.addFile(path, file, error)) {
    diags_.emit(diag::CannotReadFile, SourceRange{}, path, error);
    return -1;
  }
  return load(path, path, false, file);
}

int ModuleSet::loadRootBuffer(FileId file) {
  return load(sources_.name(file), sources_.name(file), false, file);
}

int ModuleSet::loadStdModule(const std::string &dotted) {
  std::string rel = dotted;
  std::replace(rel.begin(), rel.end(), '.', '/');
  std::string path = (fs::path(stdlibDir_) / (rel + ".exp")).string();
  for (size_t k = 0; k < modules_.size(); ++k)
    if (modules_[k].path == path)
      return int(k);
  FileId file = 0;
  std::string error;
  // Shown relative to the stdlib directory (`std/core.exp`), so messages read
  // the same on every machine.
  if (!sources_.addFile(path, file, error, rel + ".exp")) {
    diags_.emit(diag::CannotReadFile, SourceRange{}, path,
                error + "; set EXP_STDLIB to the standard library's directory");
    return -1;
  }
  return load(dotted, path, true, file);
}

std::vector<std::string> ModuleSet::stdModuleNames() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(stdlibDir_, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().extension() != ".exp")
      continue;
    fs::path rel = fs::relative(it->path(), stdlibDir_, ec);
    std::string name = rel.replace_extension().generic_string();
    std::replace(name.begin(), name.end(), '/', '.');
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

int ModuleSet::load(const std::string &name, const std::string &path, bool isStd, FileId file) {
  LoadedModule m;
  m.name = name;
  m.path = path;
  m.file = file;
  m.isStd = isStd;
  if (auto parsed = parseFile(file, sources_, diags_)) {
    m.ast = std::move(*parsed);
    m.parsed = true;
  } else {
    m.ast.file = file;
  }
  int index = static_cast<int>(modules_.size());
  modules_.push_back(std::move(m));
  loading_.push_back(index);
  resolveImports(index);
  loading_.pop_back();
  return index;
}

void ModuleSet::resolveImports(int index) {
  // Copy what we need: loading more modules grows (and moves) modules_.
  std::vector<ast::Import> imports = modules_[index].ast.imports;
  fs::path importerDir = fs::path(modules_[index].path).parent_path();
  std::vector<int> targets;
  for (const ast::Import &imp : imports) {
    std::string name, path;
    bool isStd = imp.file.empty();
    if (isStd) {
      name = imp.dotted();
      if (imp.path.size() < 2 || imp.path[0] != "std") {
        auto d = diags_.emit(diag::UnknownModule, imp.targetRange, name);
        std::string guess = closestMatch(name, stdModuleNames());
        if (!guess.empty())
          d.help(fmt::format("did you mean `{}`?", guess)).fixit(imp.targetRange, guess);
        else
          d.help("standard-library modules are named `std.<module>`; files are imported by "
                 "path, as in `import \"./common.exp\"`");
        targets.push_back(-1);
        continue;
      }
      fs::path p = stdlibDir_;
      for (const std::string &part : imp.path)
        p /= part;
      p += ".exp";
      path = p.string();
      if (!fs::exists(p)) {
        auto d = diags_.emit(diag::UnknownModule, imp.targetRange, name);
        std::string guess = closestMatch(name, stdModuleNames());
        if (!guess.empty())
          d.help(fmt::format("did you mean `{}`?", guess)).fixit(imp.targetRange, guess);
        else
          d.help(fmt::format("the standard library has `{}`",
                             fmt::join(stdModuleNames(), "`, `")));
        targets.push_back(-1);
        continue;
      }
    } else {
      name = imp.file;
      fs::path p = fs::path(imp.file);
      if (p.is_absolute()) {
        diags_.emit(diag::AbsoluteImport, imp.targetRange, imp.file);
        targets.push_back(-1);
        continue;
      }
      path = (importerDir / p).lexically_normal().string();
    }

    // Already loaded (shared by several importers) or being loaded (a cycle)?
    int found = -1;
    for (size_t k = 0; k < modules_.size(); ++k)
      if (modules_[k].path == path)
        found = static_cast<int>(k);
    if (found >= 0 &&
        std::find(loading_.begin(), loading_.end(), found) != loading_.end()) {
      diags_.emit(diag::ImportCycle, imp.targetRange, name);
      targets.push_back(-1);
      continue;
    }
    if (found < 0) {
      FileId file = 0;
      std::string error;
      std::string display = isStd ? fs::relative(path, stdlibDir_).generic_string() : path;
      if (!sources_.addFile(path, file, error, display)) {
        diags_.emit(diag::CannotReadFile, imp.targetRange, path, error);
        targets.push_back(-1);
        continue;
      }
      if (!imp.hash.empty())
        checkPin(imp, file);
      found = load(name, path, isStd, file);
    } else if (!imp.hash.empty()) {
      checkPin(imp, modules_[found].file);
    }
    targets.push_back(found);
  }
  modules_[index].targets = std::move(targets);
}

void ModuleSet::checkPin(const ast::Import &imp, FileId file) {
  std::string actual = sha256Hex(sources_.contents(file));
  if (actual == imp.hash)
    return;
  diags_.emit(diag::HashMismatch, imp.hashRange, imp.dotted())
      .help(fmt::format("the file's content hash is now sha256:{}; if the change is intended, "
                        "pin that instead",
                        actual))
      .fixit(imp.hashRange, "sha256:" + actual);
}

} // namespace expc
