// Precompiled header for runtime translation units: LibTorch is by far the
// most expensive thing they parse.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
