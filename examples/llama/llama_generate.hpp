#pragma once
// Greedy decoding of one sequence: one offloader pass for the whole prompt
// (prefill), then one pass per token (decode). Every decoder layer's weights
// come from the offloader; the engine does the math.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "llama_engine.hpp"

namespace llama {

struct generation_request {
    std::vector<std::int32_t> prompt;
    // Tokens to produce; the last one needs no pass of its own.
    std::size_t new_tokens = 1;
    // When not empty, the decode steps feed these ids, one a step, instead of
    // the previous argmax (new_tokens is then teacher_force.size() + 1).
    std::vector<std::int32_t> teacher_force;
    // Keep the logits of every position fed: the prompt's, then each decode step's.
    bool record_logits = false;
};

struct generation_result {
    std::vector<std::int32_t> generated;  // the argmax after the prompt and after each decode step
    std::vector<float> logits;            // [positions x vocab] when recorded
    double prefill_seconds = 0;
    double decode_seconds = 0;
    std::size_t decode_steps = 0;

    double prefill_tokens_per_second(std::size_t prompt_tokens) const {
        return prefill_seconds > 0 ? static_cast<double>(prompt_tokens) / prefill_seconds : 0;
    }
    double decode_tokens_per_second() const {
        return decode_seconds > 0 ? static_cast<double>(decode_steps) / decode_seconds : 0;
    }
};

// Positions the engine must hold for this request.
inline std::size_t positions_needed(generation_request const& r) {
    std::size_t const steps = r.teacher_force.empty() ? r.new_tokens - 1 : r.teacher_force.size();
    return r.prompt.size() + steps;
}

// One forward step; returns its argmax. The clock stops when next_token
// returns, which on a GPU waits for the step's work.
template <class Offloader, engine Engine>
std::int32_t forward(Offloader& offloader, Engine& e, std::span<std::int32_t const> tokens, std::size_t position,
                     std::vector<float>* logits) {
    e.begin(tokens, position);
    for (auto layer : offloader.pass()) e.layer(layer.index(), layer_weights(layer));
    e.finish(logits);
    return e.next_token();
}

template <class Offloader, engine Engine>
generation_result generate(Offloader& offloader, Engine& e, generation_request const& r) {
    using clock = std::chrono::steady_clock;
    generation_result out;
    std::vector<float> step_logits;
    std::vector<float>* const keep = r.record_logits ? &step_logits : nullptr;
    auto record = [&] {
        if (keep != nullptr) out.logits.insert(out.logits.end(), step_logits.begin(), step_logits.end());
    };

    auto const start = clock::now();
    out.generated.push_back(forward(offloader, e, r.prompt, 0, keep));
    out.prefill_seconds = std::chrono::duration<double>(clock::now() - start).count();
    record();

    out.decode_steps = positions_needed(r) - r.prompt.size();
    auto const decode_start = clock::now();
    for (std::size_t k = 0; k < out.decode_steps; ++k) {
        std::int32_t const fed = r.teacher_force.empty() ? out.generated.back() : r.teacher_force[k];
        out.generated.push_back(forward(offloader, e, std::span(&fed, 1), r.prompt.size() + k, keep));
        record();
    }
    out.decode_seconds = std::chrono::duration<double>(clock::now() - decode_start).count();
    return out;
}

}  // namespace llama
