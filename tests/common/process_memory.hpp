#pragma once
// How much memory this process holds, for the soak and leak tests.
#include <cstddef>
#include <cstdio>

#include <fcntl.h>
#include <unistd.h>

namespace offload::testing {

// ASan keeps freed memory in a quarantine and TSan shadows it: RSS says
// nothing about leaks there (LeakSanitizer checks them in those builds).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool under_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool under_sanitizer = true;
#else
inline constexpr bool under_sanitizer = false;
#endif
#else
inline constexpr bool under_sanitizer = false;
#endif

// Anonymous resident memory of this process in bytes: resident less shared
// (file-backed) pages of /proc/self/statm. A leak is anonymous memory; code
// pages of libc or gtest touched for the first time by a late code path are
// not, and would otherwise read as growth in a small process. Read with a
// stack buffer, so that reading allocates nothing. 0 where /proc is missing.
inline std::size_t anonymous_resident_bytes() {
    char text[128] = {};
    int const fd = open("/proc/self/statm", O_RDONLY);
    if (fd < 0) return 0;
    ssize_t const n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return 0;
    unsigned long long size = 0, resident = 0, shared = 0;
    if (std::sscanf(text, "%llu %llu %llu", &size, &resident, &shared) != 3) return 0;
    return static_cast<std::size_t>(resident - shared) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace offload::testing
