#pragma once
// The ranks of a tensor-parallel run (one host thread per GPU, one process)
// and their NCCL communicators, made so that one rank's failure stops the
// others instead of hanging them.
//
// A collective waits on the device for every rank; a rank that has thrown
// never arrives, and a host thread that waits for its stream (an offloader's
// synchronize, cudaStreamSynchronize) would wait for ever. So: communicators
// are nonblocking (ncclConfig_t::blocking = 0); no rank thread waits for a
// stream that may hold a collective except through rank_comm::wait, a
// polling loop that also watches the communicator's asynchronous error and
// the group's failure flag; and a failing rank aborts its own communicator
// (ncclCommAbort ends its kernels) before anything that synchronises runs,
// which abort_on_unwind arranges. The other ranks see the flag in their next
// poll, abort theirs and throw peer_failed. Each communicator is only ever
// touched by its own rank's thread.
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

#include <cuda_runtime_api.h>
#include <nccl.h>

namespace offload_examples::tp {

// What the ranks share: the communicator's id and the first failure.
class group {
public:
    explicit group(int ranks);  // makes the NCCL unique id
    int size() const noexcept { return ranks_; }
    ncclUniqueId const& id() const noexcept { return id_; }

    // A rank is failing: the first to say so is the one reported. Cheap and
    // noexcept, for a destructor during unwinding, before the cause is known.
    void stop(int rank) noexcept;
    // The cause, once caught; also stops the group if it was not stopped yet.
    void record(int rank, std::string const& cause);
    bool stopped() const noexcept { return stopped_.load(std::memory_order_acquire); }

    struct failure {
        int rank = -1;
        std::string cause;
    };
    std::optional<failure> first_failure() const;

private:
    int ranks_;
    ncclUniqueId id_{};
    std::atomic<bool> stopped_{false};
    mutable std::mutex mutex_;
    int failed_rank_ = -1;
    std::string cause_;
};

// Thrown in a rank that stopped because another rank failed.
struct peer_failed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// One rank's nonblocking communicator, on one device.
class rank_comm {
public:
    rank_comm(group& g, int rank, int device) : group_(g), rank_(rank), device_(device) {}
    ~rank_comm();  // aborts a communicator that was not finished; never throws
    rank_comm(rank_comm const&) = delete;
    rank_comm& operator=(rank_comm const&) = delete;

    // ncclCommInitRankConfig on the calling thread's current device, polled until every rank joined.
    void init();
    // In place, sum, bf16, enqueued on s; returns once NCCL has enqueued it.
    void all_reduce_sum_bf16(void* buffer, std::size_t count, cudaStream_t s);
    // Until e has completed, polling: throws if the communicator reports an
    // error, or peer_failed (after aborting) if another rank failed.
    void wait(cudaEvent_t e, std::string const& what);
    // Finalize and destroy, polled.
    void finish();
    // ncclCommAbort, once; for failure paths.
    void abort() noexcept;

    int rank() const noexcept { return rank_; }
    group& peers() noexcept { return group_; }

private:
    // Polls the communicator until it is no longer in progress.
    void settle(std::string const& what);
    // One poll: the group's flag and the communicator's state; returns the state.
    ncclResult_t poll(std::string const& what);

    group& group_;
    int rank_;
    int device_;
    ncclComm_t comm_ = nullptr;
};

// Declared after the objects whose destructors wait for the rank's streams
// (an offloader's pass, the stack, the offloader), it is destroyed before
// them: when the scope is left by an exception it stops the group and aborts
// the communicator, so that those waits end.
class abort_on_unwind {
public:
    explicit abort_on_unwind(rank_comm& c) noexcept : comm_(c), exceptions_(std::uncaught_exceptions()) {}
    ~abort_on_unwind() {
        if (std::uncaught_exceptions() > exceptions_) {
            comm_.peers().stop(comm_.rank());
            comm_.abort();
        }
    }
    abort_on_unwind(abort_on_unwind const&) = delete;
    abort_on_unwind& operator=(abort_on_unwind const&) = delete;

private:
    rank_comm& comm_;
    int exceptions_;
};

}  // namespace offload_examples::tp
