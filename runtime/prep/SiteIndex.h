// What every image-dataset reader produces: one row per site (field of
// view), the image file of each of its channels, where in the metadata the
// row came from, and its metadata under the names the runtime uses.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace exprt {

// Separates an archive from a member in a file name, as in
// "shard-000.tar!/compound-004/Plate1/AA02_s1_3.jp2" (WebDataset shards).
constexpr const char *kMemberSeparator = "!/";

struct SiteIndex {
  std::vector<std::vector<std::string>> files; // [site][file] image paths: one per channel,
  size_t channelsPerFile = 1;                  // or files holding several (Bray's .npz: 5)
  std::vector<std::string> where;              // [site] "metadata.csv:17", for messages
  // [name][site]: perturbation, control ("1"/"0"), plate, well, site, batch,
  // source, split, cell_type (the ones a format has).
  std::map<std::string, std::vector<std::string>> columns;
  // [name][value]: where a value that comes from another table than the
  // site's row was defined ("compound.csv.gz:5" for JUMP's SMILES), so a
  // value refused later (an invalid SMILES) is named where it can be fixed.
  std::map<std::string, std::map<std::string, std::string>> valueWhere;

  size_t size() const { return files.size(); }
  bool has(const std::string &name) const { return columns.count(name) != 0; }
  void add(const std::string &name, std::string value) { columns[name].push_back(std::move(value)); }
};

} // namespace exprt
