#include "Io.h"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include <openssl/evp.h>
#include <unistd.h>

namespace exptool {
namespace fs = std::filesystem;

std::string sha256Hex(const std::string &bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &n, EVP_sha256(), nullptr);
  static const char *const kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

const char *toolErrorCode(ToolError kind) {
  static const char *const kCodes[] = {
#define TOOL_ERROR(name, code, meaning) code,
#include "ToolErrors.def"
#undef TOOL_ERROR
  };
  return kCodes[static_cast<size_t>(kind)];
}

namespace {
bool gJsonErrors = false;
const char *gToolName = "exp";

// The place a message starts with, `FILE:LINE[:COLUMN]: ` or `FILE: ` (a path
// that exists, or whose folder does), cut from `text`; null when there is none.
nlohmann::json takePlace(std::string &text) {
  static const std::regex kLine(R"(^([^`:\s][^`:]*):([0-9]+)(?::([0-9]+))?: )");
  if (std::smatch m; std::regex_search(text, m, kLine)) {
    nlohmann::json range = {{"file", m[1].str()}, {"begin", {{"line", std::stoi(m[2].str())}}}};
    if (m[3].matched)
      range["begin"]["column"] = std::stoi(m[3].str());
    text = m.suffix().str();
    return range;
  }
  const size_t colon = text.find(": ");
  if (colon == std::string::npos || text.find('`') < colon)
    return nullptr;
  const fs::path path = text.substr(0, colon);
  std::error_code ec;
  if (!(fs::exists(path, ec) || (path.has_parent_path() && fs::is_directory(path.parent_path(), ec))))
    return nullptr;
  text = text.substr(colon + 2);
  return {{"file", path.string()}};
}

// `exp: error: MESSAGE [CODE]`: the code ends the first line; what follows
// (how to go on) stays below. Or that as one JSON object.
int failWithCode(const std::string &message, const std::string &code) {
  const size_t eol = message.find('\n');
  if (gJsonErrors) {
    std::string first = message.substr(0, eol);
    nlohmann::json error = {{"code", code}, {"severity", "error"}};
    if (nlohmann::json range = takePlace(first); !range.is_null())
      error["range"] = std::move(range);
    error["message"] = first;
    if (eol != std::string::npos)
      error["help"] = message.substr(eol + 1);
    std::cerr << error.dump() << "\n";
    return 1;
  }
  std::cerr << gToolName << ": error: " << message.substr(0, eol) << (code.empty() ? "" : " [" + code + "]")
            << (eol == std::string::npos ? "" : message.substr(eol)) << "\n";
  return 1;
}
} // namespace

void setJsonErrors(bool on) { gJsonErrors = on; }

void setToolName(const char *name) { gToolName = name; }
const char *toolName() { return gToolName; }

int fail(ToolError kind, const std::string &message) { return failWithCode(message, toolErrorCode(kind)); }

int fail(const exprt::Status &status, const std::string &then) {
  return failWithCode(status.message() + then, status.code());
}

std::string timestamp(const char *format) {
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, format, std::localtime(&now));
  return buf;
}

bool readFile(const fs::path &path, std::string &out) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) // a directory reads as nothing; a FIFO blocks
    return false;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::string unreadable(const fs::path &path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status))
    return "no such file";
  if (fs::is_directory(status))
    return "it is a directory, not a file";
  if (!fs::is_regular_file(status))
    return "it is not a regular file (a FIFO, socket or device)";
  return "it cannot be read (its permissions?)";
}

nlohmann::json readJson(const fs::path &path) {
  std::string text;
  return readFile(path, text) ? nlohmann::json::parse(text, nullptr, false) : nlohmann::json();
}

bool writeFile(const std::string &pathText, const std::string &contents, std::string &error) {
  fs::path path = pathText, tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid()); // two runs may share the MLflow store
  errno = 0;
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  if (!out) {
    const int why = errno;
    error = "cannot write " + path.string() + (why ? std::string(": ") + std::strerror(why) : "");
    std::error_code ec;
    fs::remove(tmp, ec);
    return false;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    error = "cannot write " + path.string() + ": " + ec.message();
    return false;
  }
  return true;
}

} // namespace exptool
