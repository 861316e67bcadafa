#pragma once
// The whole library: include this, or the one header of each piece you use.
#include <offload/backend/default.hpp>
#include <offload/backend/host.hpp>
#include <offload/config.hpp>
#include <offload/errors.hpp>
#include <offload/layer_offloader.hpp>
#include <offload/model.hpp>
#include <offload/prefetch/lookahead.hpp>
#include <offload/prefetch/none.hpp>
#include <offload/profile/combine.hpp>
#include <offload/profile/events.hpp>
#include <offload/profile/none.hpp>
#include <offload/residency/budget.hpp>
#include <offload/residency/first_n.hpp>
#include <offload/residency/interleaved.hpp>
#include <offload/stats.hpp>
#include <offload/summary.hpp>
