#include "exec/Pretrained.h"

#include "record/SafeTensors.h"
#include "record/Sha256.h"

#include <torch/torch.h>

#include <map>
#include <set>

namespace exprt {
namespace {

std::string shapeText(at::IntArrayRef shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string listed(const std::vector<std::string> &names, size_t most) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < most; ++i)
    out += (i ? ", " : "") + std::string("`") + names[i] + "`";
  if (names.size() > most)
    out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

} // namespace

Status loadPretrained(const Plan &plan, ParameterStore &params, std::vector<PretrainedRecord> &records) {
  records.clear();
  std::map<std::string, std::vector<const ParameterSpec *>> byFile;
  for (const ParameterSpec &s : plan.parameters)
    if (!s.weightsFile.empty())
      byFile[s.weightsFile].push_back(&s);
  torch::NoGradGuard noGrad;
  for (const auto &[given, specs] : byFile) {
    PretrainedRecord rec;
    rec.file = specPath(plan, given);
    if (!sha256OfFile(rec.file, rec.sha256))
      return Status::error(ErrorKind::WeightsUnreadable, rec.file + ": cannot open the pretrained weights");
    SafeTensors file; // mapped: the tensors view the file's pages until copied into the parameters
    if (Status s = mapSafeTensors(rec.file, file); !s)
      return Status::error(ErrorKind::WeightsUnreadable, s.message());
    // A checkpoint holds its parameters under `param/`, and bookkeeping besides.
    bool checkpoint = false;
    for (const auto &[name, t] : file.tensors)
      checkpoint = checkpoint || name.rfind("param/", 0) == 0;
    std::map<std::string, std::string> names; // name as matched -> name in the file
    for (const auto &[name, t] : file.tensors)
      if (!checkpoint || name.rfind("param/", 0) == 0)
        names[checkpoint ? name.substr(6) : name] = name;
    std::set<std::string> used;
    std::vector<std::string> missing, misshaped;
    for (const ParameterSpec *s : specs) {
      const std::string &relative = s->weightsName;
      std::string found;
      for (const std::string &candidate : {relative, s->name})
        if (found.empty() && names.count(candidate))
          found = names[candidate];
      if (found.empty()) { // another encoder's name for the same network: a unique suffix
        std::vector<std::string> suffix;
        for (const auto &[name, inFile] : names)
          if (name.size() > relative.size() && name.compare(name.size() - relative.size(), relative.size(), relative) == 0 &&
              name[name.size() - relative.size() - 1] == '.')
            suffix.push_back(inFile);
        if (suffix.size() == 1)
          found = suffix[0];
      }
      if (found.empty()) {
        missing.push_back(relative);
        continue;
      }
      const torch::Tensor &t = file.tensors.at(found);
      if (t.sizes().vec() != s->shape) {
        misshaped.push_back("`" + found + "` is " + shapeText(t.sizes()) + ", the parameter `" + s->name + "` " +
                            shapeText(s->shape));
        continue;
      }
      if (!t.is_floating_point()) {
        misshaped.push_back("`" + found + "` holds " + std::string(c10::toString(t.scalar_type())) +
                            ", not floating-point values");
        continue;
      }
      params.get(s->name).copy_(t.to(torch::kFloat32));
      used.insert(found);
      ++rec.loaded;
    }
    if (!misshaped.empty()) {
      std::string text;
      for (const std::string &m : misshaped)
        text += "\n  " + m;
      return Status::error(ErrorKind::WeightsMismatch, rec.file + ": " + std::to_string(misshaped.size()) +
                           " tensors do not fit the encoder's parameters:" + text);
    }
    if (!missing.empty())
      return Status::error(ErrorKind::WeightsMismatch,
                           rec.file + ": no tensor for " + std::to_string(missing.size()) + " of the encoder's " +
                           std::to_string(specs.size()) + " parameters: " + listed(missing, 20) +
                           " (names are relative to the encoder, as `exp compile --emit=plan` lists them)");
    for (const auto &[name, inFile] : names)
      if (!used.count(inFile))
        rec.unexpected.push_back(inFile);
    records.push_back(std::move(rec));
  }
  return Status::ok();
}

} // namespace exprt
