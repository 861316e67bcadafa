#pragma once
// Hooks a recorder may have beyond profile_recorder: copies issued during one
// pass for the next, and passes captured as graphs. The scheduler calls them
// through these functions, so that a recorder without them (a test's, say)
// still works: a copy for the next pass is then reported as an ordinary copy,
// and a replayed pass is not timed.
#include <cstddef>

namespace offload::profile {

// How many captures of one pass a recorder needs, one set of events each, so
// that the host may launch a replay while an earlier one is unread.
template <class Recorder>
constexpr std::size_t graph_records() {
    if constexpr (requires { Recorder::graph_records; })
        return Recorder::graph_records;
    else
        return 1;
}

template <class Recorder, class Stream>
void next_pass_copy_begin(Recorder& r, std::size_t layer, Stream s) {
    if constexpr (requires { r.next_pass_copy_begin(layer, s); })
        r.next_pass_copy_begin(layer, s);
    else
        r.copy_begin(layer, s);
}
template <class Recorder, class Stream>
void next_pass_copy_end(Recorder& r, std::size_t layer, std::size_t bytes, Stream s) {
    if constexpr (requires { r.next_pass_copy_end(layer, bytes, s); })
        r.next_pass_copy_end(layer, bytes, s);
    else
        r.copy_end(layer, bytes, s);
}
// The copies issued for the next pass will not be used.
template <class Recorder>
void drop_next_pass(Recorder& r) noexcept {
    if constexpr (requires { r.drop_next_pass(); }) r.drop_next_pass();
}

// The pass between the next pass_begin and pass_end is being captured as
// graph number `copy` (< graph_records): it is a recording, not a run.
template <class Recorder>
void capture_begin(Recorder& r, std::size_t copy) {
    if constexpr (requires { r.capture_begin(copy); }) r.capture_begin(copy);
}
// Around the launch of graph number `copy`.
template <class Recorder, class Stream>
void replay_begin(Recorder& r, std::size_t copy, Stream s) {
    if constexpr (requires { r.replay_begin(copy, s); }) r.replay_begin(copy, s);
}
template <class Recorder, class Stream>
void replay_end(Recorder& r, std::size_t copy, Stream s) {
    if constexpr (requires { r.replay_end(copy, s); }) r.replay_end(copy, s);
}

}  // namespace offload::profile
