#include "Io.h"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include <unistd.h>

namespace exptool {
namespace fs = std::filesystem;

const char *toolErrorCode(ToolError kind) {
  static const char *const kCodes[] = {
#define TOOL_ERROR(name, code, meaning) code,
#include "ToolErrors.def"
#undef TOOL_ERROR
  };
  return kCodes[static_cast<size_t>(kind)];
}

namespace {
// `exp: error: MESSAGE [CODE]`: the code ends the first line; what follows
// (how to go on) stays below.
int failWithCode(const std::string &message, const std::string &code) {
  const size_t eol = message.find('\n');
  std::cerr << "exp: error: " << message.substr(0, eol) << (code.empty() ? "" : " [" + code + "]")
            << (eol == std::string::npos ? "" : message.substr(eol)) << "\n";
  return 1;
}
} // namespace

int fail(ToolError kind, const std::string &message) { return failWithCode(message, toolErrorCode(kind)); }

int fail(const exprt::Status &status, const std::string &then) {
  return failWithCode(status.message() + then, status.code());
}

int fail(const std::string &message) {
  std::cerr << "exp: error: " << message << "\n";
  return 1;
}

std::string timestamp(const char *format) {
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, format, std::localtime(&now));
  return buf;
}

bool readFile(const fs::path &path, std::string &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
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
