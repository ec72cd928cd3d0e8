#include "driver/CompileCache.h"

#include "contract/CacheDirectory.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace expc {

std::string normalizedSourceHash(const FrontEnd &fe, const std::vector<std::string> &overrides) {
  std::string text;
  bool root = true;
  for (const LoadedModule &m : fe.modules->modules()) {
    std::string dump = ast::dump(m.ast, fe.sources, /*positions=*/false);
    // The first line names the file; imports are named as written, the root
    // file not at all (where it lives does not change what it means).
    dump = dump.substr(dump.find('\n') + 1);
    text += "module " + (root ? std::string("<root>") : m.name) + "\n" + dump;
    root = false;
  }
  for (const std::string &o : overrides)
    text += "override " + o + "\n";
  return sha256Hex(text);
}

std::string compileCacheKey(const std::string &buildId, const std::string &normalizedHash,
                            const std::string &options, const std::string &target) {
  return sha256Hex("exp-compile-cache-v1\n" + buildId + "\n" + normalizedHash + "\n" + options +
                   "\n" + target + "\n");
}

std::string compileCacheDirectory() { return expcontract::cacheDirectory(); }

static fs::path entry(const std::string &key) {
  return fs::path(compileCacheDirectory()) / "plans" / (key + ".json");
}

std::optional<std::string> readCachedPlan(const std::string &key) {
  std::ifstream in(entry(key), std::ios::binary);
  if (!in)
    return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof())
    return std::nullopt;
  return text.str();
}

void writeCachedPlan(const std::string &key, const std::string &plan) {
  std::error_code ec;
  fs::path path = entry(key);
  fs::create_directories(path.parent_path(), ec);
  if (ec)
    return;
  fs::path tmp = path;
  tmp += ".tmp" + std::to_string(std::rand());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << plan;
    if (!out) {
      fs::remove(tmp, ec);
      return;
    }
  }
  fs::rename(tmp, path, ec);
  if (ec)
    fs::remove(tmp, ec);
}

} // namespace expc
