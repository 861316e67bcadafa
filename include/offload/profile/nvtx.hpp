#pragma once
// profile::nvtx: NVTX3 ranges in an "offload" domain around each copy, wait,
// compute and write-back as the host enqueues them, and names on the
// streams, so that Nsight Systems lays the library's steps beside the
// kernels. Ranges cost close to nothing when no tool is attached; the
// strings are registered once, at construction. Needs the CUDA toolkit's
// nvtx3 headers (CMake target CUDA::nvtx3, part of offload::cuda).
#include <cstddef>
#include <string>
#include <vector>

#include <nvtx3/nvToolsExt.h>
#include <nvtx3/nvToolsExtCudaRt.h>

#include <offload/profile/concept.hpp>

namespace offload::profile {

namespace detail {

struct nvtx_domain_tag {
    static constexpr char const* name = "offload";
};

template <class Backend>
class nvtx_recorder {
    using stream = typename Backend::stream_type;

public:
    static constexpr bool measures_time = false;  // ranges for a tool to read; no figure in the stats
    nvtx_recorder(Backend& backend, std::size_t layers) : domain_(nvtxDomainCreateA(nvtx_domain_tag::name)) {
        for (std::size_t i = 0; i < layers; ++i) {
            auto const n = std::to_string(i);
            copy_.push_back(nvtxDomainRegisterStringA(domain_, ("copy layer " + n).c_str()));
            wait_.push_back(nvtxDomainRegisterStringA(domain_, ("wait layer " + n).c_str()));
            decode_.push_back(nvtxDomainRegisterStringA(domain_, ("decode layer " + n).c_str()));
            compute_.push_back(nvtxDomainRegisterStringA(domain_, ("compute layer " + n).c_str()));
            release_.push_back(nvtxDomainRegisterStringA(domain_, ("write back layer " + n).c_str()));
        }
        pass_ = nvtxDomainRegisterStringA(domain_, "pass");
        replay_ = nvtxDomainRegisterStringA(domain_, "launch captured pass");
        if constexpr (requires { nvtxNameCudaStreamA(backend.compute_stream(), ""); }) {
            nvtxNameCudaStreamA(backend.compute_stream(), "offload compute");
            nvtxNameCudaStreamA(backend.copy_stream(), "offload copy");
            nvtxNameCudaStreamA(backend.writeback_stream(), "offload write-back");
        }
    }
    nvtx_recorder(nvtx_recorder const&) = delete;
    nvtx_recorder& operator=(nvtx_recorder const&) = delete;
    ~nvtx_recorder() { nvtxDomainDestroy(domain_); }

    void pass_begin(stream) { push(pass_); }
    void copy_begin(std::size_t layer, stream) { push(copy_[layer]); }
    void copy_end(std::size_t, std::size_t, stream) { pop(); }
    void wait_begin(std::size_t layer, stream) {
        push(wait_[layer]);
        waiting_ = true;
    }
    void decode_begin(std::size_t layer, stream) {
        if (waiting_) pop();
        waiting_ = false;
        push(decode_[layer]);
    }
    void decode_end(std::size_t, stream) { pop(); }
    void compute_begin(std::size_t layer, stream) {
        if (waiting_) pop();
        waiting_ = false;
        push(compute_[layer]);
    }
    void compute_end(std::size_t, stream) { pop(); }
    void release_begin(std::size_t layer, stream) { push(release_[layer]); }
    void release_end(std::size_t, std::size_t, stream) { pop(); }
    void pass_end(stream) { pop(); }
    // A replay runs no host code per layer: its range marks the launch, and
    // the layers' kernels appear under it in a tool's GPU rows.
    void replay_begin(std::size_t, stream) { push(replay_); }
    void replay_end(std::size_t, stream) { pop(); }
    // Closes whatever a broken pass left open.
    void pass_abort() noexcept {
        while (depth_ > 0) pop();
        waiting_ = false;
    }
    void fill(stats&) noexcept {}
    void reset() noexcept {}

private:
    void push(nvtxStringHandle_t message) {
        nvtxEventAttributes_t a{};
        a.version = NVTX_VERSION;
        a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
        a.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
        a.message.registered = message;
        nvtxDomainRangePushEx(domain_, &a);
        ++depth_;
    }
    void pop() noexcept {
        nvtxDomainRangePop(domain_);
        --depth_;
    }

    nvtxDomainHandle_t domain_;
    std::vector<nvtxStringHandle_t> copy_, wait_, decode_, compute_, release_;
    nvtxStringHandle_t pass_{}, replay_{};
    int depth_ = 0;
    bool waiting_ = false;
};

}  // namespace detail

struct nvtx {
    using policy_kind = offload::policy_kind::profiler;
    static constexpr char const* name = "nvtx";
    template <class Backend>
    using recorder = detail::nvtx_recorder<Backend>;
};

static_assert(profiler_policy<nvtx>);

}  // namespace offload::profile
