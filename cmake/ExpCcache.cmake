# ccache for every compile. The sloppiness settings let ccache serve translation
# units that use the LibTorch precompiled header.
find_program(EXP_CCACHE ccache)
if(EXP_CCACHE)
  set(_launcher ${CMAKE_COMMAND} -E env
      "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
      ${EXP_CCACHE})
  set(CMAKE_C_COMPILER_LAUNCHER ${_launcher})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${_launcher})
  message(STATUS "exp: using ccache at ${EXP_CCACHE}")
else()
  message(STATUS "exp: ccache not found; builds will be slower")
endif()
