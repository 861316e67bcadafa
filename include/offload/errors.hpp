#pragma once
// The library's exception types. Every failure a user can act on has its own
// type; all derive from offload::error so one catch clause sees them all.
#include <cstddef>
#include <stdexcept>
#include <string>

namespace offload {

struct error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A configuration or model description the library refuses to run.
struct configuration_error : error {
    using error::error;
};

// A transfer codec cannot encode or decode a buffer (non-finite input to a
// lossy codec, encoded bytes that are short or malformed); names the buffer.
struct codec_error : error {
    using error::error;
};

// Device memory ran out: carries what was asked for and what was free, so that
// the caller can plan a smaller configuration.
struct out_of_memory : error {
    out_of_memory(std::string const& what_for, std::size_t requested, std::size_t available)
        : error("offload: out of device memory while " + what_for + ": requested " +
                std::to_string(requested) + " bytes, " + std::to_string(available) +
                " bytes available"),
          requested_bytes(requested), available_bytes(available) {}
    std::size_t requested_bytes;
    std::size_t available_bytes;
};

// A backend call failed: where, which call, the backend's error name and text.
struct backend_error : error {
    backend_error(char const* file, int line, std::string error_name, std::string const& text,
                  std::string operation)
        : error(std::string(file) + ":" + std::to_string(line) + ": " + error_name + " (" + text +
                ") while " + operation),
          file(file), line(line), error_name(std::move(error_name)), description(text),
          operation(std::move(operation)) {}
    // The same error, said to have happened in a wider step ("layer 7: ...").
    backend_error within(std::string const& step) const {
        return backend_error(file.c_str(), line, error_name, description, step + ": " + operation);
    }
    std::string file;
    int line;
    std::string error_name;
    std::string description;
    std::string operation;
};

}  // namespace offload
