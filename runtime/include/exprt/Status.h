// The outcome of a runtime call: ok, or an error message naming the file and
// place. Its own header because nearly every runtime stage returns one and
// needs nothing else of the public API (include/exprt/Runtime.h).
#pragma once

#include <string>
#include <utility>

namespace exprt {

// The runtime's error classes, each with a stable code (ErrorKinds.def).
enum class ErrorKind {
  None, // an ok Status
#define RUNTIME_ERROR(name, code, meaning) name,
#include "exprt/ErrorKinds.def"
#undef RUNTIME_ERROR
};

// How many kinds there are, None included.
inline constexpr int kErrorKindCount = 1
#define RUNTIME_ERROR(name, code, meaning) +1
#include "exprt/ErrorKinds.def"
#undef RUNTIME_ERROR
    ;

// The code of `kind` (`R0100`), or "" for None.
inline const char *errorCode(ErrorKind kind) {
  static const char *const kCodes[] = {
      "",
#define RUNTIME_ERROR(name, code, meaning) code,
#include "exprt/ErrorKinds.def"
#undef RUNTIME_ERROR
  };
  return kCodes[static_cast<int>(kind)];
}

class Status {
public:
  static Status ok() { return Status(); }
  static Status error(ErrorKind kind, std::string message) { return Status(kind, std::move(message)); }
  bool isOk() const { return !failed_; }
  explicit operator bool() const { return isOk(); }
  const std::string &message() const { return message_; }
  ErrorKind kind() const { return kind_; }
  const char *code() const { return errorCode(kind_); }
  // The same error with `prefix` before its message (the place, the phase),
  // keeping its class.
  Status prefixed(const std::string &prefix) const { return Status(kind_, prefix + message_); }
  // The same error, its message replaced (with more context), keeping its class.
  Status reworded(std::string message) const { return Status(kind_, std::move(message)); }

private:
  Status() = default;
  Status(ErrorKind kind, std::string m) : failed_(true), kind_(kind), message_(std::move(m)) {}
  bool failed_ = false;
  ErrorKind kind_ = ErrorKind::None;
  std::string message_;
};

} // namespace exprt
