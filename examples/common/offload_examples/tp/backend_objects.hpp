#pragma once
// A rank's device buffer and marker event, through its offloader's CUDA
// backend (so that errors read like the library's), released without throwing.
#include <cstddef>
#include <string>

#include <offload/backend/cuda.hpp>

namespace offload_examples::tp {

class device_buffer {
public:
    device_buffer(offload::backend::cuda& b, std::size_t bytes, std::string const& what)
        : backend_(b), bytes_(bytes), p_(b.device_allocate(bytes, what)) {}
    ~device_buffer() { backend_.device_deallocate(p_, bytes_); }
    device_buffer(device_buffer const&) = delete;
    device_buffer& operator=(device_buffer const&) = delete;
    void* get() const noexcept { return p_; }

private:
    offload::backend::cuda& backend_;
    std::size_t bytes_;
    void* p_;
};

// An event without timing, to mark a point of a stream that a rank waits for
// through rank_comm::wait (comm.hpp) rather than by synchronising.
class marker_event {
public:
    explicit marker_event(offload::backend::cuda& b) : backend_(b), e_(b.event_create(false)) {}
    ~marker_event() { backend_.event_destroy(e_); }
    marker_event(marker_event const&) = delete;
    marker_event& operator=(marker_event const&) = delete;
    cudaEvent_t get() const noexcept { return e_; }

private:
    offload::backend::cuda& backend_;
    cudaEvent_t e_;
};

}  // namespace offload_examples::tp
