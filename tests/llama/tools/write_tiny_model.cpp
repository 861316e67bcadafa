// Writes the checkpoints of offload-llama's command-line tests under DIR:
//   DIR/tiny        the tiny random Llama of tests/llama/tiny_model.hpp
//   DIR/no-weights  its config.json alone
//   DIR/truncated   its config.json and the first half of its model.safetensors
// Usage: write_tiny_model DIR
#include <exception>
#include <filesystem>
#include <iostream>

#include "tiny_model.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: write_tiny_model DIR\n";
        return 2;
    }
    namespace fs = std::filesystem;
    try {
        fs::path const dir = argv[1];
        llama::testing::write_tiny_model(dir / "tiny", {});
        fs::create_directories(dir / "no-weights");
        fs::copy_file(dir / "tiny" / "config.json", dir / "no-weights" / "config.json",
                      fs::copy_options::overwrite_existing);
        fs::create_directories(dir / "truncated");
        fs::copy_file(dir / "tiny" / "config.json", dir / "truncated" / "config.json",
                      fs::copy_options::overwrite_existing);
        fs::copy_file(dir / "tiny" / "model.safetensors", dir / "truncated" / "model.safetensors",
                      fs::copy_options::overwrite_existing);
        fs::resize_file(dir / "truncated" / "model.safetensors", fs::file_size(dir / "tiny" / "model.safetensors") / 2);
    } catch (std::exception const& e) {
        std::cerr << "write_tiny_model: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
