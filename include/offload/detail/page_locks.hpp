#pragma once
// The host ranges that offloaders of one backend have page-locked, counted
// process-wide: page-locking belongs to the process, not to an offloader, so
// an offloader over memory that another one already locked shares that lock,
// and the last one to let go unlocks it. Memory that someone else locked
// (cudaHostAlloc, the caller's own cudaHostRegister) is used and left alone;
// where that covers only part of a range, the rest is locked here.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include <offload/backend/concept.hpp>

namespace offload::detail {

inline constexpr std::uintptr_t page_bytes = 4096;

// What locking one range gave, in bytes.
struct page_lock_outcome {
    std::size_t locked = 0;   // locked by an offloader (this one, or shared with another)
    std::size_t foreign = 0;  // already locked by someone else
    bool refused = false;     // the system refused: nothing of the range is held
};

template <class Backend>
class page_lock_table {
public:
    static page_lock_table& instance() {
        static page_lock_table table;
        return table;
    }

    // Locks the page-aligned range [begin, end). held receives the table's
    // ranges this call took a reference on; pass them to release() later.
    page_lock_outcome lock(Backend& backend, std::uintptr_t begin, std::uintptr_t end, bool read_only,
                           std::vector<std::uintptr_t>& held) {
        std::lock_guard guard(mutex_);
        page_lock_outcome out;
        std::vector<std::uintptr_t> taken;
        auto undo = [&] {
            for (auto b : taken) drop(backend, b);
            out = {0, 0, true};
        };
        // Ranges already in the table that overlap: share them.
        auto it = ranges_.upper_bound(begin);
        if (it != ranges_.begin() && std::prev(it)->second.end > begin) --it;
        std::uintptr_t at = begin;
        for (; it != ranges_.end() && it->first < end; ++it) {
            if (at < it->first && !lock_gap(backend, at, it->first, read_only, out, taken)) {
                undo();
                return out;
            }
            ++it->second.refs;
            taken.push_back(it->first);
            out.locked += std::min(end, it->second.end) - std::max(begin, it->first);
            at = std::max(at, it->second.end);
        }
        if (at < end && !lock_gap(backend, at, end, read_only, out, taken)) {
            undo();
            return out;
        }
        held.insert(held.end(), taken.begin(), taken.end());
        return out;
    }

    void release(Backend& backend, std::vector<std::uintptr_t> const& held) noexcept {
        std::lock_guard guard(mutex_);
        for (auto b : held) drop(backend, b);
    }

private:
    struct range {
        std::uintptr_t end;
        std::size_t refs;
    };

    // Locks a range no offloader holds. If the system says part of it is
    // locked already, the pages are looked at one by one and only the
    // unlocked runs are locked here.
    bool lock_gap(Backend& backend, std::uintptr_t begin, std::uintptr_t end, bool read_only, page_lock_outcome& out,
                  std::vector<std::uintptr_t>& taken) {
        switch (backend.host_register(reinterpret_cast<void*>(begin), end - begin, read_only)) {
            case host_registration::refused: return false;
            case host_registration::registered: insert(begin, end, out, taken); return true;
            case host_registration::already_page_locked: break;
        }
        std::uintptr_t run = begin;
        bool run_locked = backend.is_page_locked(reinterpret_cast<void*>(begin));
        for (std::uintptr_t page = begin; page <= end; page += page_bytes) {
            bool const locked = page < end && backend.is_page_locked(reinterpret_cast<void*>(page));
            if (page < end && locked == run_locked) continue;
            if (run_locked) {
                out.foreign += page - run;
            } else if (backend.host_register(reinterpret_cast<void*>(run), page - run, read_only) ==
                       host_registration::registered) {
                insert(run, page, out, taken);
            } else {
                return false;
            }
            run = page;
            run_locked = locked;
        }
        return true;
    }
    void insert(std::uintptr_t begin, std::uintptr_t end, page_lock_outcome& out, std::vector<std::uintptr_t>& taken) {
        ranges_.emplace(begin, range{end, 1});
        taken.push_back(begin);
        out.locked += end - begin;
    }
    void drop(Backend& backend, std::uintptr_t begin) noexcept {
        auto it = ranges_.find(begin);
        if (it == ranges_.end() || --it->second.refs > 0) return;
        backend.host_unregister(reinterpret_cast<void*>(begin));
        ranges_.erase(it);
    }

    std::mutex mutex_;
    std::map<std::uintptr_t, range> ranges_;  // begin -> end and how many offloaders use it
};

}  // namespace offload::detail
