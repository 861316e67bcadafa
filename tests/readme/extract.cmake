# cmake -DREADME=<README.md> -DOUTPUT=<file.cpp> -P extract.cmake
#
# Writes the first ```cpp fenced block that follows the line holding
# <!-- compiled-by-tests --> to OUTPUT. OUTPUT is only rewritten when its
# content changes, so an unrelated README edit does not rebuild it.
foreach(var README OUTPUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "extract.cmake: -D${var}=... is required")
  endif()
endforeach()

file(READ "${README}" text)
# Positions, not list splitting: C++ code holds ';' and '[' that CMake lists mangle.
string(FIND "${text}" "<!-- compiled-by-tests -->" marker)
if(marker EQUAL -1)
  message(FATAL_ERROR "${README}: no <!-- compiled-by-tests --> marker")
endif()
string(SUBSTRING "${text}" ${marker} -1 text)
string(FIND "${text}" "\n```cpp" open)
if(open EQUAL -1)
  message(FATAL_ERROR "${README}: no ```cpp block after the <!-- compiled-by-tests --> marker")
endif()
math(EXPR open "${open} + 1")
string(SUBSTRING "${text}" ${open} -1 text)
string(FIND "${text}" "\n" eol)          # end of the ```cpp line
math(EXPR eol "${eol} + 1")
string(SUBSTRING "${text}" ${eol} -1 text)
string(FIND "${text}" "\n```" close)
if(close EQUAL -1)
  message(FATAL_ERROR "${README}: the ```cpp block after the marker is not closed")
endif()
math(EXPR close "${close} + 1")
string(SUBSTRING "${text}" 0 ${close} code)

set(content "// Extracted from ${README} by tests/readme/extract.cmake; do not edit.\n${code}")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${content}")
