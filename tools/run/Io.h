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

// `TOOL: error: MESSAGE [CODE]` on stderr (toolName(): `exp`, `exp-run`);
// returns the exit status 1.
int fail(ToolError kind, const std::string &message);
// The runtime's error, with its class's code (exprt/ErrorKinds.def); `then`
// ("\n..." lines: how to go on) follows it.
int fail(const exprt::Status &status, const std::string &then = "");
// With `on`, fail() writes each error as one JSON object on a line, as the
// front end's `--diagnostics-format=json` does: code, severity, message,
// the file and line the message starts with (when it names them), and the
// lines that follow as `help`.
void setJsonErrors(bool on);
// The program errors are reported as (`exp`, the default, or `exp-run`).
void setToolName(const char *name);
const char *toolName();
// The local time in a strftime `format`.
std::string timestamp(const char *format);
// A whole regular file; false when it cannot be read.
bool readFile(const std::filesystem::path &path, std::string &out);
// Why readFile() refused `path`: "no such file", "it is a directory", ...
std::string unreadable(const std::filesystem::path &path);
// A JSON file, discarded (or null when unreadable) rather than throwing.
nlohmann::json readJson(const std::filesystem::path &path);
// The SHA-256 of `bytes` as 64 lowercase hex digits (libcrypto).
std::string sha256Hex(const std::string &bytes);
// Writes `contents` through a temporary file and a rename; false with
// `error` set (naming the file and the reason) when it cannot.
bool writeFile(const std::string &path, const std::string &contents, std::string &error);

} // namespace exptool
