// Built against an installed offload package (see CMakeLists.txt here).
#include <offload/offload.hpp>

int main() { return 0; }
