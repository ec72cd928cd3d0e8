// Profile pipeline stages (the brief's evaluation.md): aggregation,
// normalisation, batch correction and feature selection over a profile
// table, in float64. Each stage rewrites the table in place and reports bad
// configuration (an unknown column, no control rows on a plate) as an error
// naming what is missing; none leaves a half-transformed table behind.
#pragma once

#include "prep/Profiles.h"

#include <string>
#include <vector>

namespace exprt {

// A metadata column as integer codes, in order of first appearance.
std::vector<int64_t> codesOf(const std::vector<std::string> &column);

// Rows whose metadata matches `column == value` for every entry of `where`
// (values of one column are alternatives); `where` empty = every row.
Status selectRows(const Profiles &p, const std::vector<std::pair<std::string, std::vector<std::string>>> &where,
                  std::vector<bool> &out);

// One row per distinct value of the `by` columns (site -> well ->
// perturbation), each feature the group's mean or median (NaN ignored).
// Kept metadata: the `by` columns, and any other column constant within
// every group. Groups in order of first appearance.
Status aggregate(Profiles &p, const std::vector<std::string> &by, const std::string &method);

// Robust MAD per plate: x' = (x - median) / (1.4826 MAD + epsilon), the
// statistics from `reference` rows (controls; every row when empty) of each
// value of `plate` ("" = the whole table).
Status robustMad(Profiles &p, const std::string &plate, const std::vector<bool> &reference,
                 double epsilon = 1e-18);

// Whitening fitted on `reference` rows: centred on their mean, then ZCA
// (U S^-1/2 U^T) or PCA (S^-1/2 U^T) with `epsilon` added to the eigenvalues.
Status sphere(Profiles &p, const std::vector<bool> &reference, const std::string &method,
              double epsilon = 1e-6);

// Typical variation normalisation: PCA whitening fitted on `reference`
// rows; with `batch` set, CORAL then maps each batch's reference covariance
// onto the pooled one (regularised by `epsilon`).
Status tvn(Profiles &p, const std::vector<bool> &reference, const std::string &batch,
           double epsilon = 1e-6);

// EFAAR's alignment: PCA to `components` dimensions (0 = all) fitted on
// every row, then per value of `batch` ("" = whole table) centred and scaled
// by its reference rows.
Status pcaCenterScale(Profiles &p, const std::vector<bool> &reference, const std::string &batch,
                      int64_t components);

struct FeatureSelection {
  double naCutoff = 0.05;       // drop features missing in more than this share of rows
  double varianceThreshold = 0; // drop features whose variance is at or below this (< 0: off)
  double corrThreshold = 0.9;   // pycytominer's rule: of each pair above it, drop the
                                // one with the higher mean |r| (>= 1: off)
  std::vector<std::string> blocklist;
};
// Returns (in `dropped`) the names of the removed features.
Status selectFeatures(Profiles &p, const FeatureSelection &options, std::vector<std::string> &dropped);

} // namespace exprt
