#pragma once
// A whole file mapped read-only (PROT_READ, MAP_PRIVATE). mmap returns a
// page-aligned address, so the mapping can be page-locked in place
// (cudaHostRegisterReadOnly) without touching a neighbour's pages.
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <offload/source/safetensors/error.hpp>

namespace offload::safetensors::detail {

class mapped_file {
public:
    explicit mapped_file(std::filesystem::path path) : path_(std::move(path)) {
        // O_NONBLOCK: opening a FIFO would otherwise wait for a writer; the
        // fstat below then refuses it.
        int const fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) throw failure("cannot open the file");
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            auto e = failure("cannot stat the file");
            ::close(fd);
            throw e;
        }
        if (!S_ISREG(st.st_mode)) {
            ::close(fd);
            throw error(error_kind::io, path_, {}, "is not a regular file");
        }
        size_ = static_cast<std::size_t>(st.st_size);
        // mmap refuses length 0; an empty file has no bytes to map.
        if (size_ != 0) {
            void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) {
                auto e = failure("cannot map the file");
                ::close(fd);
                throw e;
            }
            data_ = static_cast<std::byte const*>(p);
        }
        ::close(fd);  // the mapping keeps the file open
    }
    mapped_file(mapped_file&& other) noexcept
        : path_(std::move(other.path_)), data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
    mapped_file& operator=(mapped_file&& other) noexcept {
        if (this != &other) {
            unmap();
            path_ = std::move(other.path_);
            data_ = std::exchange(other.data_, nullptr);
            size_ = std::exchange(other.size_, 0);
        }
        return *this;
    }
    mapped_file(mapped_file const&) = delete;
    mapped_file& operator=(mapped_file const&) = delete;
    ~mapped_file() { unmap(); }

    std::span<std::byte const> bytes() const noexcept { return {data_, size_}; }
    std::filesystem::path const& path() const noexcept { return path_; }

private:
    error failure(char const* what) const {
        int const code = errno;  // before anything below can change it
        return error(error_kind::io, path_, {}, std::string(what) + ": " + std::strerror(code));
    }
    void unmap() noexcept {
        if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
        data_ = nullptr;
    }

    std::filesystem::path path_;
    std::byte const* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace offload::safetensors::detail
