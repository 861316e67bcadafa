#pragma once
// The safetensors weight source: opens a checkpoint (one file, or the shards
// of model.safetensors.index.json), maps every file read-only, checks every
// header in full, and builds an offload::model whose layers point into the
// mappings; the tensors outside the layers go to the caller.
//
//   auto ckpt = offload::safetensors::checkpoint::open(dir);
//   auto layered = offload::safetensors::build_layers(ckpt, spec);
//   offload::safetensors::prefault(layered);          // progress on stderr past 1 s
//   offload::layer_offloader<...> off(layered.model, cfg);
//
// Keep the checkpoint alive as long as the offloader: the model's buffers
// point into its mappings.
//
// Host memory for the streamed layers (config::host_memory_mode):
// - host_memory::copy_to_pinned copies each streamed layer into pinned memory
//   the library allocates: the streamed bytes twice in RAM for a moment (the
//   file's pages can then be dropped by the kernel), and a copy at load time.
//   Choose it when RAM is ample, or when page-locking a file mapping is not
//   possible (it needs cudaHostRegisterReadOnly).
// - host_memory::register_caller page-locks the mapped file in place, read
//   only: no second copy, and load time is one read of the file. Choose it
//   when the model is near the size of RAM. The mapping is page-aligned, so
//   its pages are registered whole. If the system refuses, the run streams
//   from pageable memory and the stats say so.
#include <offload/source/safetensors/checkpoint.hpp>
#include <offload/source/safetensors/error.hpp>
#include <offload/source/safetensors/layers.hpp>
#include <offload/source/safetensors/prefault.hpp>
#include <offload/source/safetensors/tensor_view.hpp>
