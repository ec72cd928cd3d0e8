#include "side/Prompts.h"

#include <algorithm>

namespace exprt {

Status renderTemplate(const std::string &tmpl, const std::map<std::string, std::vector<std::string>> &columns,
                      size_t row, std::string &out) {
  out.clear();
  for (size_t i = 0; i < tmpl.size(); ++i) {
    char c = tmpl[i];
    if ((c == '{' || c == '}') && i + 1 < tmpl.size() && tmpl[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c == '}')
      return Status::error(ErrorKind::PlanInvalid, "template `" + tmpl + "`: a `}` at " + std::to_string(i + 1) +
                           " closes nothing (write `}}` for a brace)");
    if (c != '{') {
      out += c;
      continue;
    }
    size_t close = tmpl.find('}', i + 1);
    if (close == std::string::npos)
      return Status::error(ErrorKind::PlanInvalid, "template `" + tmpl + "`: the `{` at " + std::to_string(i + 1) + " is not closed");
    const std::string name = tmpl.substr(i + 1, close - i - 1);
    auto it = columns.find(name);
    if (it == columns.end()) {
      std::string have;
      for (const auto &[column, values] : columns)
        have += (have.empty() ? "" : ", ") + column;
      return Status::error(ErrorKind::InputMismatch, "template `" + tmpl + "`: no column `" + name + "` (the data has " + have + ")");
    }
    out += it->second.at(row);
    i = close;
  }
  return Status::ok();
}

std::vector<std::string> templateColumns(const std::string &tmpl) {
  std::vector<std::string> names;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if ((tmpl[i] == '{' || tmpl[i] == '}') && i + 1 < tmpl.size() && tmpl[i + 1] == tmpl[i]) {
      ++i;
      continue;
    }
    if (tmpl[i] != '{')
      continue;
    size_t close = tmpl.find('}', i + 1);
    if (close == std::string::npos)
      break;
    std::string name = tmpl.substr(i + 1, close - i - 1);
    if (std::find(names.begin(), names.end(), name) == names.end())
      names.push_back(std::move(name));
    i = close;
  }
  return names;
}

} // namespace exprt
