// Writes the tiny random Llama checkpoint of tests/llama/tiny_model.hpp to a
// directory, for the command-line tests of offload-llama:
//   write_tiny_model DIR
#include <exception>
#include <iostream>

#include "tiny_model.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: write_tiny_model DIR\n";
        return 2;
    }
    try {
        llama::testing::write_tiny_model(argv[1], {});
    } catch (std::exception const& e) {
        std::cerr << "write_tiny_model: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
