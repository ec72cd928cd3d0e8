// The outcome of a runtime call: ok, or an error message naming the file and
// place. Its own header because nearly every runtime stage returns one and
// needs nothing else of the public API (include/exprt/Runtime.h).
#pragma once

#include <string>
#include <utility>

namespace exprt {

class Status {
public:
  static Status ok() { return Status(); }
  static Status error(std::string message) { return Status(std::move(message)); }
  bool isOk() const { return !failed_; }
  explicit operator bool() const { return isOk(); }
  const std::string &message() const { return message_; }

private:
  Status() = default;
  explicit Status(std::string m) : failed_(true), message_(std::move(m)) {}
  bool failed_ = false;
  std::string message_;
};

} // namespace exprt
