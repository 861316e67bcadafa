#pragma once
#include <algorithm>
#include <string>

#include <offload/errors.hpp>
#include <offload/residency/concept.hpp>

namespace offload::residency {

// As many layers as fit a byte budget once the staging slots are paid for. The
// budget is gpu_memory_budget, or free device memory less reserve_bytes when
// that is 0. Layers are taken in stack order; one that does not fit is skipped
// and smaller ones after it may still fit.
struct budget {
    using policy_kind = offload::policy_kind::residency;
    static constexpr char const* name = "budget";

    static placement place(placement_request const& request) {
        auto const& bytes = request.layer_bytes;
        std::size_t const total = sum(bytes);
        std::size_t const free_less_reserve = request.device_free_bytes > request.cfg.reserve_bytes
                                                  ? request.device_free_bytes - request.cfg.reserve_bytes
                                                  : 0;
        bool const explicit_budget = request.cfg.gpu_memory_budget != 0;
        std::size_t const budget_bytes = explicit_budget ? request.cfg.gpu_memory_budget : free_less_reserve;
        std::string const source = explicit_budget ? "gpu_memory_budget" : "free device memory less reserve_bytes";

        placement p;
        if (total <= budget_bytes) {
            p.resident.assign(bytes.size(), true);
            p.reason = "all " + std::to_string(bytes.size()) + " layers (" + std::to_string(total) +
                       " bytes) fit the budget of " + std::to_string(budget_bytes) + " bytes (" + source + ")";
            return p;
        }
        // Some layer will stream; the slots must hold the largest layer that might.
        std::size_t const slot_bytes = *std::max_element(bytes.begin(), bytes.end());
        std::size_t const staging = slot_bytes * request.staging_slots;
        if (staging > budget_bytes)
            throw configuration_error("offload: the budget of " + std::to_string(budget_bytes) + " bytes (" + source +
                                      ") is too small for " + std::to_string(request.staging_slots) +
                                      " staging slot(s) of " + std::to_string(slot_bytes) + " bytes");
        std::size_t left = budget_bytes - staging;
        p.resident.assign(bytes.size(), false);
        std::size_t count = 0, kept = 0;
        for (std::size_t i = 0; i < bytes.size(); ++i) {
            if (bytes[i] > left) continue;
            left -= bytes[i];
            kept += bytes[i];
            p.resident[i] = true;
            ++count;
        }
        p.reason = std::to_string(count) + " of " + std::to_string(bytes.size()) + " layers resident (" +
                   std::to_string(kept) + " bytes) after " + std::to_string(request.staging_slots) +
                   " staging slot(s) of " + std::to_string(slot_bytes) + " bytes, within a budget of " +
                   std::to_string(budget_bytes) + " bytes (" + source + ")";
        return p;
    }

private:
    static std::size_t sum(std::vector<std::size_t> const& v) {
        std::size_t n = 0;
        for (auto b : v) n += b;
        return n;
    }
};

static_assert(residency_policy<budget>);

}  // namespace offload::residency
