#pragma once
// The two ways a command line fails before any work starts. command_line::run
// prints either as one line, "PROGRAM: error: OPTION: WHAT; ALLOWED".
#include <string>

namespace offload_examples {

// A bad command line: exit code 2. An empty `allowed` is filled in from the
// option's row of the table ("allowed: an integer from 1 to 4096").
struct usage_error {
    std::string option;   // with its dashes, e.g. "--layers"; or a quoted stray argument
    std::string what;     // what is wrong
    std::string allowed;  // what would be right
};

// A good command line that cannot run here (no GPU for --backend cuda): exit code 1.
struct environment_error {
    std::string option, what, allowed;
};

}  // namespace offload_examples
