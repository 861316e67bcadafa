# shellcheck shell=bash
# Sourced by scripts/test and scripts/example: installs, with apt-get, what a
# fresh Debian 12 / Ubuntu 24.04 machine lacks to build offload. Installs
# nothing when everything is present. OFFLOAD_SKIP_DEPS=1 skips the check.
#
# Required: cmake (>= 3.25), ninja, g++, Boost headers >= 1.81, GoogleTest.
# Wanted (the build does without them, or with less): the compiled Boost.JSON
# library (else built from <boost/json/src.hpp>), Boost.Program_options (else
# no offload-ffn), Google Benchmark (else no benchmarks). Where apt cannot
# install them (no network), a missing wanted piece is only a warning.

_offload_log() { printf 'deps: %s\n' "$*" >&2; }

# _offload_cmake_probe: prints, one a line, which of boost, boost_json,
# boost_program_options, gtest, benchmark CMake cannot find, calling
# find_package as the build does (so a Boost in /usr/local counts too).
_offload_cmake_probe() {
    local dir rc=0
    dir=$(mktemp -d)
    cat >"$dir/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(offload_deps_probe LANGUAGES CXX)
set(missing)
find_package(Boost 1.81 CONFIG QUIET OPTIONAL_COMPONENTS json program_options)
if(NOT Boost_FOUND)
  list(APPEND missing boost boost_json boost_program_options)
else()
  # BoostConfig leaves Boost_FOUND true when an optional component is missing.
  foreach(comp json program_options)
    if(NOT Boost_${comp}_FOUND)
      list(APPEND missing boost_${comp})
    endif()
  endforeach()
endif()
find_package(GTest QUIET)
if(NOT GTest_FOUND)
  list(APPEND missing gtest)
endif()
find_package(benchmark CONFIG QUIET)
if(NOT benchmark_FOUND)
  list(APPEND missing benchmark)
endif()
foreach(name IN LISTS missing)
  message(NOTICE "offload-missing: ${name}")
endforeach()
CMAKE
    cmake -S "$dir" -B "$dir/build" 2>&1 >/dev/null | sed -n 's/^offload-missing: //p' || rc=$?
    rm -rf "$dir"
    return "$rc"
}

# _offload_missing: prints what is missing: command names and probe names.
_offload_missing() {
    command -v cmake >/dev/null || echo cmake
    command -v ninja >/dev/null || echo ninja
    command -v g++ >/dev/null || echo g++
    if command -v cmake >/dev/null && command -v g++ >/dev/null; then
        _offload_cmake_probe
    else
        echo boost boost_json boost_program_options gtest benchmark
    fi
}

# _offload_boost_suffix: prints the suffix of the Boost dev packages to install:
# "" if apt offers unversioned ones >= 1.81 (Ubuntu 24.04: libboost-json-dev),
# otherwise the newest version >= 1.81 (Debian 12: "1.81", libboost-json1.81-dev).
_offload_boost_suffix() {
    local ver v
    ver=$(apt-cache show libboost-json-dev 2>/dev/null | sed -n 's/^Version: //p' | head -n1 || true)
    if [[ -n $ver ]] && dpkg --compare-versions "$ver" ge 1.81; then
        echo ""
        return
    fi
    for v in $(apt-cache search --names-only '^libboost-json1\.[0-9]+-dev$' 2>/dev/null \
                   | sed -n 's/^libboost-json\(1\.[0-9]*\)-dev .*/\1/p' | sort -rV); do
        dpkg --compare-versions "$v" ge 1.81 || continue
        if apt-cache show "libboost-program-options${v}-dev" >/dev/null 2>&1; then
            echo "$v"
            return
        fi
    done
    return 1
}

# _offload_apt_install NAME...: installs the apt packages for the missing names.
_offload_apt_install() {
    local -a sudo=() pkgs=()
    local name suffix
    command -v apt-get >/dev/null || { _offload_log "no apt-get"; return 1; }
    if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq || return 1
    for name in "$@"; do
        case $name in
            cmake) pkgs+=(cmake) ;;
            ninja) pkgs+=(ninja-build) ;;
            g++) pkgs+=(g++) ;;
            gtest) pkgs+=(libgtest-dev) ;;
            benchmark) pkgs+=(libbenchmark-dev) ;;
            boost|boost_json|boost_program_options)
                if [[ -z ${suffix+x} ]]; then
                    suffix=$(_offload_boost_suffix) || { _offload_log "apt offers no Boost >= 1.81"; return 1; }
                fi
                case $name in
                    boost|boost_json) pkgs+=("libboost-json${suffix}-dev") ;;
                    boost_program_options) pkgs+=("libboost-program-options${suffix}-dev") ;;
                esac ;;
        esac
    done
    # shellcheck disable=SC2046  # one package a word
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${pkgs[@]}" | sort -u)
}

# offload_install_deps: the entry point. Fails only if something required is
# still missing after trying apt.
offload_install_deps() {
    if [[ ${OFFLOAD_SKIP_DEPS:-0} == 1 ]]; then
        _offload_log "OFFLOAD_SKIP_DEPS=1: not checking dependencies"
        return 0
    fi
    local -a missing
    read -r -d '' -a missing < <(_offload_missing) || true
    if ((${#missing[@]} == 0)); then
        _offload_log "all build dependencies present"
    else
        _offload_log "missing: ${missing[*]}; installing with apt-get"
        _offload_apt_install "${missing[@]}" || _offload_log "apt-get could not install them"
        read -r -d '' -a missing < <(_offload_missing) || true
    fi

    local name failed=0
    for name in "${missing[@]}"; do
        case $name in
            boost_json) _offload_log "warning: no compiled Boost.JSON; the build compiles <boost/json/src.hpp>" ;;
            boost_program_options) _offload_log "warning: no Boost.Program_options library; offload-ffn is not built" ;;
            benchmark) _offload_log "warning: no Google Benchmark; benchmarks are not built" ;;
            *) _offload_log "error: required dependency missing: ${name}"; failed=1 ;;
        esac
    done
    ((failed == 0)) || return 1

    local cmake_version
    cmake_version=$(cmake --version | sed -n 's/^cmake version \([0-9.]*\).*/\1/p')
    if ! dpkg --compare-versions "${cmake_version:-0}" ge 3.25; then
        _offload_log "error: CMake ${cmake_version} is too old: offload needs 3.25 or newer"
        return 1
    fi
}
