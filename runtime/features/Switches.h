// For the sources that test an EXP_WITH_* option (`#if EXP_WITH_CSV`): the
// runtime's targets define every option as 0 or 1 (runtime/CMakeLists.txt,
// EXP_FEATURE_DEFINITIONS), so a target that forgot them fails here instead
// of building every feature "off" in silence.
#pragma once

#ifndef EXP_FEATURES_DEFINED
#error "compile the runtime's sources with EXP_FEATURE_DEFINITIONS (runtime/CMakeLists.txt)"
#endif

#include "features/Features.h"
