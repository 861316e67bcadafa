# offload_target_defaults(<target>)
#
# Settings for the project's own tests, examples and benchmarks (never for the
# offload library target, so never for consumers): warnings, and the sanitizer
# chosen with OFFLOAD_SANITIZE. Sanitizer and warning flags go to C++ sources
# only; a target with .cu sources gets no sanitizer (nvcc-compiled objects and
# the CUDA runtime are not instrumented), the asan/tsan presets turn CUDA off.
include_guard(GLOBAL)

set(_offload_sanitize_flags_address
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
set(_offload_sanitize_flags_thread -fsanitize=thread -fno-omit-frame-pointer)

function(offload_target_defaults target)
  set(_warn -Wall -Wextra -Wpedantic)
  if(OFFLOAD_WERROR)
    list(APPEND _warn -Werror)
  endif()
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE "$<$<COMPILE_LANGUAGE:CXX>:${_warn}>")
  endif()

  if(OFFLOAD_SANITIZE STREQUAL "")
    return()
  endif()
  get_target_property(_sources ${target} SOURCES)
  list(FILTER _sources INCLUDE REGEX "\\.cu$")
  if(_sources)
    message(STATUS "offload: ${target} has CUDA sources, built without -fsanitize=${OFFLOAD_SANITIZE}")
    return()
  endif()
  set(_flags ${_offload_sanitize_flags_${OFFLOAD_SANITIZE}})
  target_compile_options(${target} PRIVATE "$<$<COMPILE_LANGUAGE:CXX>:${_flags}>")
  target_link_options(${target} PRIVATE ${_flags})
endfunction()
