# The package test, as two ctest steps sharing the fixture offload_pkg:
#
#   cmake -DMODE=install  -DBUILD_DIR=... -DPREFIX=... [-DCONFIG=...] -P driver.cmake
#     installs the build tree into a fresh PREFIX.
#   cmake -DMODE=consumer -DPREFIX=... -DSOURCE_DIR=<examples/consumer> -DBINARY_DIR=...
#         -DGENERATOR=... [-DMAKE_PROGRAM=...] -DCXX_COMPILER=... [-DBOOST_DIR=...]
#         [-DCONFIG=...] -P driver.cmake
#     configures and builds the consumer project against PREFIX only (no
#     sanitizer or other flags of the main build), checks that find_package
#     took offload from PREFIX, and runs the consumer.
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    list(JOIN ARGV " " cmd)
    message(FATAL_ERROR "failed (${rc}): ${cmd}")
  endif()
endfunction()

if(MODE STREQUAL "install")
  file(REMOVE_RECURSE "${PREFIX}")
  set(config_args)
  if(CONFIG)
    set(config_args --config "${CONFIG}")
  endif()
  run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" ${config_args})
  file(GLOB_RECURSE config_file "${PREFIX}/*/offloadConfig.cmake")
  if(NOT config_file)
    message(FATAL_ERROR "no offloadConfig.cmake under ${PREFIX}")
  endif()

elseif(MODE STREQUAL "consumer")
  if(NOT EXISTS "${PREFIX}")
    message(FATAL_ERROR "${PREFIX} does not exist: run the package_install test first")
  endif()
  if(NOT CONFIG)
    set(CONFIG Release)
  endif()
  file(REMOVE_RECURSE "${BINARY_DIR}")
  set(args -S "${SOURCE_DIR}" -B "${BINARY_DIR}" -G "${GENERATOR}"
           "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
           "-DCMAKE_PREFIX_PATH=${PREFIX}"
           "-DCMAKE_BUILD_TYPE=${CONFIG}")
  if(MAKE_PROGRAM)
    list(APPEND args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
  endif()
  if(BOOST_DIR)
    list(APPEND args "-DBoost_DIR=${BOOST_DIR}")
  endif()
  # The consumer must not inherit the main build's flags (e.g. sanitizers).
  unset(ENV{CXXFLAGS})
  unset(ENV{LDFLAGS})
  run("${CMAKE_COMMAND}" ${args})

  file(STRINGS "${BINARY_DIR}/CMakeCache.txt" offload_dir REGEX "^offload_DIR:")
  string(REGEX REPLACE "^offload_DIR:[A-Z]+=" "" offload_dir "${offload_dir}")
  file(REAL_PATH "${offload_dir}" offload_dir)
  file(REAL_PATH "${PREFIX}" prefix_real)
  string(FIND "${offload_dir}/" "${prefix_real}/" at)
  if(NOT at EQUAL 0)
    message(FATAL_ERROR "the consumer found offload in '${offload_dir}', not under ${PREFIX}")
  endif()

  run("${CMAKE_COMMAND}" --build "${BINARY_DIR}" --config "${CONFIG}")
  foreach(candidate "${BINARY_DIR}/offload-consumer" "${BINARY_DIR}/${CONFIG}/offload-consumer"
                    "${BINARY_DIR}/offload-consumer.exe" "${BINARY_DIR}/${CONFIG}/offload-consumer.exe")
    if(EXISTS "${candidate}")
      run("${candidate}")
      return()
    endif()
  endforeach()
  message(FATAL_ERROR "offload-consumer was not built in ${BINARY_DIR}")

else()
  message(FATAL_ERROR "driver.cmake: -DMODE=install or -DMODE=consumer")
endif()
