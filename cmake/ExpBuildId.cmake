# The compiler's build id: the project version plus a hash of every compiler and
# grammar source file, recomputed at build time, so any change to the compiler
# changes the id (and with it every compile-cache key and plan header).
set(EXP_BUILD_ID_CPP ${CMAKE_BINARY_DIR}/generated/BuildId.cpp)
file(GLOB_RECURSE EXP_COMPILER_INPUTS CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/compiler/*.cpp ${CMAKE_SOURCE_DIR}/compiler/*.h
     ${CMAKE_SOURCE_DIR}/compiler/*.td ${CMAKE_SOURCE_DIR}/compiler/*.def
     ${CMAKE_SOURCE_DIR}/grammar/*.g4 ${CMAKE_SOURCE_DIR}/stdlib/*.exp)
list(SORT EXP_COMPILER_INPUTS)
string(REPLACE ";" "|" _exp_inputs "${EXP_COMPILER_INPUTS}")
add_custom_command(
  OUTPUT ${EXP_BUILD_ID_CPP}
  COMMAND ${CMAKE_COMMAND} -DOUT=${EXP_BUILD_ID_CPP} -DVERSION=${PROJECT_VERSION}
          "-DINPUTS=${_exp_inputs}" -P ${CMAKE_SOURCE_DIR}/cmake/WriteBuildId.cmake
  DEPENDS ${EXP_COMPILER_INPUTS} ${CMAKE_SOURCE_DIR}/cmake/WriteBuildId.cmake
  COMMENT "computing the compiler build id"
  VERBATIM)
