// The run report: one self-contained HTML file (no network, no external
// script or style) with the metric tables, loss curves, 2-D maps of the
// evaluated embeddings coloured by perturbation and by batch, and retrieval
// curves. The numbers travel as JSON inside the page; a small inline script
// draws them as SVG, so the page is what a browser renders from the record.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>

namespace exprt {

// `metrics`: the run's metrics.json; `plots`: evaluateAll's plots.
std::string renderReport(const std::string &title, const nlohmann::json &metrics,
                         const nlohmann::json &plots);

} // namespace exprt
