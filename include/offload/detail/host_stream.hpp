#pragma once
// In-order streams and events for the host backend. A worker stream runs its
// tasks on its own thread, as a copy engine runs copies beside the SMs; the
// inline stream runs each task at once on the calling thread. A task that
// throws on a worker poisons the stream, as a sticky error does a CUDA
// context: the next synchronize() reports it. Events follow CUDA's rules: a wait is
// for the most recent record before it and no other, and a timestamp is taken
// when the stream reaches the record.
#include <chrono>
#include <condition_variable>
#include <exception>
#include <string>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

namespace offload::detail {

using host_clock = std::chrono::steady_clock;

class host_event {
public:
    // Called by the recording stream's caller: the event now stands for this record.
    std::uint64_t mark_recorded() {
        std::lock_guard lock(mutex_);
        return ++recorded_;
    }
    std::uint64_t last_recorded() const {
        std::lock_guard lock(mutex_);
        return recorded_;
    }
    // Called when the stream reaches the record. Records made on different
    // streams complete out of order: each is kept apart, so that a later record
    // on a faster stream releases none of the waiters of an earlier one.
    void complete(std::uint64_t generation) {
        std::lock_guard lock(mutex_);
        completed_.insert(generation);
        while (completed_.count(contiguous_ + 1) != 0) completed_.erase(++contiguous_);
        // The timestamp is that of the most recent record, as cudaEventElapsedTime reads it.
        if (generation == recorded_) time_ = host_clock::now();
        // Under the lock: a waiter may destroy the event as soon as it sees the
        // record complete, and must not while the broadcast still runs.
        changed_.notify_all();
    }
    // Waits for exactly that record (CUDA: a wait is for the most recent
    // record made before the wait call, and for nothing else).
    void wait_for(std::uint64_t generation) const {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return done(generation); });
    }
    // Complete and the time it completed at; false while the most recent record is pending.
    bool query(host_clock::time_point& when) const {
        std::lock_guard lock(mutex_);
        when = time_;
        return recorded_ > 0 && done(recorded_);
    }

private:
    bool done(std::uint64_t generation) const { return generation <= contiguous_ || completed_.count(generation) != 0; }

    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::uint64_t recorded_ = 0;
    std::uint64_t contiguous_ = 0;       // every record up to this one has completed
    std::set<std::uint64_t> completed_;  // completed records beyond contiguous_
    host_clock::time_point time_{};
};

class host_stream {
public:
    enum class kind { inline_on_caller, worker_thread };

    explicit host_stream(kind k) {
        if (k == kind::worker_thread) worker_ = std::thread([this] { run(); });
    }
    host_stream(host_stream const&) = delete;
    host_stream& operator=(host_stream const&) = delete;
    ~host_stream() {
        if (!worker_.joinable()) return;
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        work_.notify_all();
        worker_.join();
    }

    void enqueue(std::function<void()> task) {
        if (!worker_.joinable()) {
            task();
            return;
        }
        {
            std::lock_guard lock(mutex_);
            tasks_.push_back(std::move(task));
        }
        work_.notify_one();
    }

    // Returns once every task enqueued before the call has run; false, with the
    // failed task's message, when one of them threw.
    bool synchronize(std::string& failure) {
        if (!worker_.joinable()) return true;
        std::unique_lock lock(mutex_);
        idle_.wait(lock, [&] { return tasks_.empty() && !busy_; });
        failure = failure_;
        return failure_.empty();
    }

private:
    void run() {
        std::unique_lock lock(mutex_);
        for (;;) {
            work_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
            if (tasks_.empty()) return;  // stopping, and everything enqueued has run
            auto task = std::move(tasks_.front());
            tasks_.pop_front();
            busy_ = true;
            lock.unlock();
            std::string failed;
            try {
                task();
            } catch (std::exception const& e) {
                failed = e.what();
            } catch (...) {
                failed = "a task threw a non-standard exception";
            }
            lock.lock();
            if (!failed.empty() && failure_.empty()) failure_ = failed;
            busy_ = false;
            if (tasks_.empty()) idle_.notify_all();
        }
    }

    std::mutex mutex_;
    std::condition_variable work_;
    std::condition_variable idle_;
    std::deque<std::function<void()>> tasks_;
    std::string failure_;
    bool busy_ = false;
    bool stopping_ = false;
    std::thread worker_;
};

}  // namespace offload::detail
