#pragma once
// The command line that the offload examples share. A new example:
//
//   #include <offload_examples/cli.hpp>
//   namespace ox = offload_examples;
//
//   // my_policies.hpp, seen by main.cpp and by the file(s) that run the offloader:
//   using my_policies = ox::policy_lists<
//       ox::type_list<offload::residency::first_n, offload::residency::budget>,  // first: the default
//       ox::type_list<offload::prefetch::lookahead<4>, offload::prefetch::none>,
//       ox::type_list<offload::profile::events, offload::profile::none>>;
//
//   int main(int argc, char** argv) {
//       ox::command_line cli("my-example", "my-example: what it does.");
//       std::size_t steps = 10;
//       cli.add({"steps", "N", "steps to run (default 10)", ox::count(steps, {1, 1000})});
//       ox::offload_options off;                       // off.cfg: the defaults before parsing
//       off.layer_count = [&] { return layers; };      // bounds --gpu-layers
//       ox::add_offload_options<my_policies>(cli, off);
//       return cli.run(argc, argv, [&] {               // after a good command line
//           // off.cfg, off.backend ("cuda"/"host"), off.policies, off.stats_json, off.trace
//           return ox::dispatch<my_policies>(off.policies, [&]<class R, class P, class F>() {
//               offload::layer_offloader<offload::backend::host, R, P, F> o(model, off.cfg);
//               ...
//               return 0;
//           });
//       });
//   }
//
// Rows are data (command_line.hpp): name, value name, help, and an
// option_value (values.hpp: count, bytes, int_list, writable_path, one_of,
// flag) that is both the allowed text and the parser. A check across options
// throws usage_error (exit 2; an empty `allowed` is taken from the option's
// row); environment_error is exit 1. See offload-ffn (examples/ffn/main.cpp).
#include "backend_choice.hpp"
#include "command_line.hpp"
#include "dispatch.hpp"
#include "errors.hpp"
#include "offload_options.hpp"
#include "output.hpp"
#include "policy_lists.hpp"
#include "values.hpp"
