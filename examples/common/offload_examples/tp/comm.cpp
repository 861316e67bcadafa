// Nonblocking NCCL communicators whose waits give up when a rank fails (see comm.hpp).
#include <offload_examples/tp/comm.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

#include <offload/detail/cuda_check.hpp>

#include <offload_examples/tp/nccl_check.hpp>

namespace offload_examples::tp {

group::group(int ranks) : ranks_(ranks) {
    OFFLOAD_EXAMPLES_NCCL_TRY(ncclGetUniqueId(&id_), nullptr,
                              "making the NCCL unique id of " + std::to_string(ranks) + " ranks");
}

void group::stop(int rank) noexcept {
    std::lock_guard lock(mutex_);
    if (failed_rank_ < 0) failed_rank_ = rank;
    stopped_.store(true, std::memory_order_release);
}

void group::record(int rank, std::string const& cause) {
    std::lock_guard lock(mutex_);
    if (failed_rank_ < 0) failed_rank_ = rank;
    if (failed_rank_ == rank && cause_.empty()) cause_ = cause;
    stopped_.store(true, std::memory_order_release);
}

std::optional<group::failure> group::first_failure() const {
    std::lock_guard lock(mutex_);
    if (failed_rank_ < 0) return std::nullopt;
    return failure{failed_rank_, cause_};
}

namespace {
// Polls back off from spinning to 50 us sleeps: a collective's enqueue settles
// in microseconds, a pass takes milliseconds.
void pause(int round) {
    if (round < 64)
        std::this_thread::yield();
    else
        std::this_thread::sleep_for(std::chrono::microseconds(50));
}
}  // namespace

rank_comm::~rank_comm() { abort(); }

ncclResult_t rank_comm::poll(std::string const& what) {
    if (group_.stopped()) {
        abort();
        auto const f = group_.first_failure();
        throw peer_failed("rank " + std::to_string(rank_) + " stopped while " + what + ": rank " +
                          std::to_string(f ? f->rank : -1) + " failed");
    }
    ncclResult_t state = ncclSuccess;
    OFFLOAD_EXAMPLES_NCCL_TRY(ncclCommGetAsyncError(comm_, &state), comm_,
                              "reading the communicator's state while " + what);
    if (state != ncclSuccess && state != ncclInProgress) detail::throw_nccl_error(state, comm_, __FILE__, __LINE__, what);
    return state;
}

void rank_comm::settle(std::string const& what) {
    for (int round = 0; poll(what) == ncclInProgress; ++round) pause(round);
}

void rank_comm::init() {
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // every call returns at once; settle() polls
    std::string const what = "making the NCCL communicator of rank " + std::to_string(rank_) + " of " +
                             std::to_string(group_.size()) + " on device " + std::to_string(device_);
    OFFLOAD_EXAMPLES_NCCL_TRY(ncclCommInitRankConfig(&comm_, group_.size(), group_.id(), rank_, &config), comm_, what);
    settle(what);
}

void rank_comm::all_reduce_sum_bf16(void* buffer, std::size_t count, cudaStream_t s) {
    std::string const what = "enqueuing the all-reduce (sum, bf16) of " + std::to_string(count) + " values";
    OFFLOAD_EXAMPLES_NCCL_TRY(ncclAllReduce(buffer, buffer, count, ncclBfloat16, ncclSum, comm_, s), comm_, what);
    // Nothing else may be enqueued on s before the collective is.
    settle(what);
}

void rank_comm::wait(cudaEvent_t e, std::string const& what) {
    for (int round = 0;; ++round) {
        cudaError_t const status = cudaEventQuery(e);
        if (status == cudaSuccess) return;
        if (status != cudaErrorNotReady) offload::detail::throw_cuda_error(status, __FILE__, __LINE__, what);
        poll(what);
        pause(round);
    }
}

void rank_comm::finish() {
    std::string const what = "finalizing the NCCL communicator of rank " + std::to_string(rank_);
    OFFLOAD_EXAMPLES_NCCL_TRY(ncclCommFinalize(comm_), comm_, what);
    settle(what);
    ncclComm_t const c = comm_;
    comm_ = nullptr;
    OFFLOAD_EXAMPLES_NCCL_TRY(ncclCommDestroy(c), c,
                              "destroying the NCCL communicator of rank " + std::to_string(rank_));
}

void rank_comm::abort() noexcept {
    if (comm_ == nullptr) return;
    ncclComm_t const c = comm_;
    comm_ = nullptr;
    if (ncclResult_t const r = ncclCommAbort(c); r != ncclSuccess && r != ncclInProgress)
        std::fprintf(stderr, "offload: %s:%d: %s (%s) while aborting the NCCL communicator of rank %d (ignored)\n",
                     __FILE__, __LINE__, detail::nccl_error_name(r), ncclGetErrorString(r), rank_);
}

}  // namespace offload_examples::tp
