# FindNCCL: the NCCL header and library, as the imported target NCCL::nccl.
#
# Looked for under NCCL_ROOT (CMake variable or environment), then the CUDA
# toolkit, then the PyTorch wheel that python3 imports as nvidia.nccl
# (site-packages/nvidia/nccl: include/nccl.h and lib/libnccl.so.2, with no
# unversioned symlink, hence the libnccl.so.2 name below), then the system.
# NCCL_ROOT may name such a wheel directory too.
#
# Sets NCCL_FOUND, NCCL_INCLUDE_DIR, NCCL_LIBRARY and NCCL_VERSION (from the
# header's NCCL_MAJOR/MINOR/PATCH). A header without a library (CUDA 13 ships
# nccl.h in the toolkit) is not found: nothing could link.
include_guard(GLOBAL)

set(_nccl_hints)
if(CUDAToolkit_INCLUDE_DIRS)
  list(APPEND _nccl_hints ${CUDAToolkit_INCLUDE_DIRS})
endif()
if(CUDAToolkit_LIBRARY_DIR)
  list(APPEND _nccl_hints ${CUDAToolkit_LIBRARY_DIR})
endif()
find_program(NCCL_PYTHON_EXECUTABLE NAMES python3)
mark_as_advanced(NCCL_PYTHON_EXECUTABLE)
if(NCCL_PYTHON_EXECUTABLE)
  execute_process(COMMAND "${NCCL_PYTHON_EXECUTABLE}" -c "import nvidia.nccl; print(list(nvidia.nccl.__path__)[0])"
                  OUTPUT_VARIABLE _nccl_wheel OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _nccl_rc)
  if(_nccl_rc EQUAL 0 AND IS_DIRECTORY "${_nccl_wheel}")
    list(APPEND _nccl_hints "${_nccl_wheel}")
  endif()
endif()

find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 NAMES_PER_DIR HINTS ${_nccl_hints} PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu)
# The header beside the library first: a toolkit's nccl.h with a wheel's
# library of another version would disagree on ncclConfig_t.
set(_nccl_include_hints)
if(NCCL_LIBRARY)
  get_filename_component(_nccl_libdir "${NCCL_LIBRARY}" DIRECTORY)
  list(APPEND _nccl_include_hints "${_nccl_libdir}/.." "${_nccl_libdir}/../..")
endif()
find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${_nccl_include_hints} ${_nccl_hints} PATH_SUFFIXES include)

if(NCCL_INCLUDE_DIR AND EXISTS "${NCCL_INCLUDE_DIR}/nccl.h")
  file(STRINGS "${NCCL_INCLUDE_DIR}/nccl.h" _nccl_version_lines REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) +[0-9]+")
  foreach(_part MAJOR MINOR PATCH)
    string(REGEX MATCH "NCCL_${_part} +([0-9]+)" _m "${_nccl_version_lines}")
    set(_nccl_${_part} "${CMAKE_MATCH_1}")
  endforeach()
  set(NCCL_VERSION "${_nccl_MAJOR}.${_nccl_MINOR}.${_nccl_PATCH}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(NCCL REQUIRED_VARS NCCL_LIBRARY NCCL_INCLUDE_DIR VERSION_VAR NCCL_VERSION)

if(NCCL_FOUND AND NOT TARGET NCCL::nccl)
  add_library(NCCL::nccl UNKNOWN IMPORTED)
  set_target_properties(NCCL::nccl PROPERTIES
    IMPORTED_LOCATION "${NCCL_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}")
endif()
mark_as_advanced(NCCL_INCLUDE_DIR NCCL_LIBRARY)
