# Sourced by the GPU scripts (gpu-check, multi-gpu-check) with $root set: the
# CUDA toolkit's tools where PATH lacks them, and the Boost libraries carried
# as Debian packages in .boost/ (see docs/performance.md) for a machine whose
# Boost has headers only: unpacked once, found first.
if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then
    export PATH="/usr/local/cuda/bin:$PATH"
fi
if compgen -G "$root/.boost/*.deb" >/dev/null; then
    boost_prefix="$root/build/boost"
    if [[ ! -d $boost_prefix/usr ]]; then
        mkdir -p "$boost_prefix"
        for deb in "$root"/.boost/*.deb; do dpkg -x "$deb" "$boost_prefix"; done
    fi
    export CMAKE_PREFIX_PATH="$boost_prefix/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
    export LD_LIBRARY_PATH="$boost_prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
