// The exp tool's input and output conventions, shared by its subcommands:
// errors as `exp: error: MESSAGE` with exit status 1, files written whole
// (temporary name, then rename), files and JSON read without throwing.
#pragma once

#include "exprt/Status.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace exptool {

// The tool's own errors, each with a stable code (ToolErrors.def).
enum class ToolError {
#define TOOL_ERROR(name, code, meaning) name,
#include "ToolErrors.def"
#undef TOOL_ERROR
};
// The code of `kind`, as `T0105`.
const char *toolErrorCode(ToolError kind);

// `exp: error: MESSAGE [CODE]` on stderr; returns the exit status 1.
int fail(ToolError kind, const std::string &message);
// A message another part words (the compiler), passed on as it is:
// `exp: error: MESSAGE`; returns the exit status 1.
int fail(const std::string &message);
// The runtime's error, with its code when its stage has one
// (exprt/ErrorKinds.def); `then` ("\n..." lines: how to go on) follows it.
int fail(const exprt::Status &status, const std::string &then = "");
// The local time in a strftime `format`.
std::string timestamp(const char *format);
// A whole file; false when it cannot be read.
bool readFile(const std::filesystem::path &path, std::string &out);
// A JSON file, discarded (or null when unreadable) rather than throwing.
nlohmann::json readJson(const std::filesystem::path &path);
// Writes `contents` through a temporary file and a rename; false with
// `error` set (naming the file and the reason) when it cannot.
bool writeFile(const std::string &path, const std::string &contents, std::string &error);

} // namespace exptool
