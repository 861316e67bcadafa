# cmake -DCOMPILER=<c++> -DINCLUDES=<dir>|<dir>... -DSOURCE=<file.cpp> -P check.cmake
#
# Passes iff <file.cpp> does NOT compile and the compiler's output matches the
# CMake regex on its first line: "// expect: <regex>".
foreach(var COMPILER INCLUDES SOURCE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check.cmake: -D${var}=... is required")
  endif()
endforeach()

file(STRINGS "${SOURCE}" first_line LIMIT_COUNT 1)
if(NOT first_line MATCHES "^// expect: (.+)$")
  message(FATAL_ERROR "${SOURCE}: the first line must be '// expect: <regex>', not '${first_line}'")
endif()
string(STRIP "${CMAKE_MATCH_1}" expect)

string(REPLACE "|" ";" include_dirs "${INCLUDES}")
set(include_flags)
foreach(dir IN LISTS include_dirs)
  list(APPEND include_flags "-I${dir}")
endforeach()

# LC_ALL=C: plain ASCII quotes in the diagnostics, whatever the user's locale.
execute_process(
  COMMAND "${CMAKE_COMMAND}" -E env LC_ALL=C
          "${COMPILER}" -std=c++20 -fsyntax-only ${include_flags} "${SOURCE}"
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE output
  ERROR_VARIABLE output)

if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must be rejected (expected: ${expect})")
endif()
if(NOT output MATCHES "${expect}")
  message(FATAL_ERROR "${SOURCE} was rejected, but no diagnostic matches '${expect}'. Compiler output:\n${output}")
endif()
message(STATUS "${SOURCE} rejected as expected: '${CMAKE_MATCH_0}'")
