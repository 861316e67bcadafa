#pragma once
// Sums of measured durations over completed passes, and what the stats derive
// from them. Filled by a timing recorder, one resolved pass at a time.
#include <algorithm>
#include <cstddef>
#include <optional>
#include <vector>

#include <offload/stats.hpp>

namespace offload::detail {

struct measured_pass {
    struct layer {
        std::optional<double> transfer_ms, stall_ms, compute_ms, release_ms, decode_ms;
        std::size_t bytes_in = 0;  // bytes the timed copy moved
    };
    std::vector<layer> layers;
    double wall_ms = 0;    // the pass on the compute stream: its first to its last event
    double window_ms = 0;  // every engine's work of the pass: from its first copy, if that came first
};

class timing_accumulator {
public:
    explicit timing_accumulator(std::size_t layers) : layers_(layers) {}

    void add(measured_pass const& p) {
        double transfer = 0, compute = 0, release = 0, decode = 0;
        for (std::size_t i = 0; i < p.layers.size(); ++i) {
            auto const& m = p.layers[i];
            auto& sum = layers_[i];
            ++sum.samples;
            add_to(sum.compute, sum.compute_n, m.compute_ms, compute);
            add_to(sum.transfer, sum.transfer_n, m.transfer_ms, transfer);
            add_to(sum.release, sum.release_n, m.release_ms, release);
            add_to(sum.decode, sum.decode_n, m.decode_ms, decode);
            double unused = 0;
            add_to(sum.stall, sum.stall_n, m.stall_ms, unused);
            if (m.stall_ms) stall_ += *m.stall_ms;
            if (m.transfer_ms) timed_bytes_in_ += m.bytes_in;
        }
        transfer_ += transfer;
        compute_ += compute;
        release_ += release;
        decode_ += decode;
        compute += decode;  // decoding runs on the SMs, beside the user's compute
        // Three engines run side by side: the copy engine into the device, the
        // SMs, the copy engine out of it. One after the other they take the sum;
        // perfectly overlapped, the busiest one's time. Each engine's spans lie
        // in the pass's window, so what was achieved never exceeds what was possible.
        double const serial = transfer + compute + release;
        theoretical_ += serial - std::max({transfer, compute, release});
        achieved_ += serial - p.window_ms;
        window_ += p.window_ms;
        ++passes_;
        wall_total_ += p.wall_ms;
        wall_min_ = passes_ == 1 ? p.wall_ms : std::min(wall_min_, p.wall_ms);
        wall_max_ = std::max(wall_max_, p.wall_ms);
        wall_last_ = p.wall_ms;
        // Bounded, so that a server running for days does not grow: the median is
        // that of the most recent passes.
        if (recent_walls_.size() < median_window)
            recent_walls_.push_back(p.wall_ms);
        else
            recent_walls_[passes_ % median_window] = p.wall_ms;
    }

    static constexpr std::size_t median_window = 4096;

    // A figure with no sample behind it is left absent; with no timed pass at
    // all, so is the whole timing section.
    void fill(stats& s) const {
        if (passes_ == 0) return;
        timing_stats t;
        std::size_t loads = 0, releases = 0, waits = 0;
        for (auto const& l : layers_) {
            loads += l.transfer_n;
            releases += l.release_n;
            waits += l.stall_n;
        }
        t.pure_computation_ms = compute_;
        if (loads > 0) {
            t.cpu_to_gpu_transfer_ms = transfer_;
            t.avg_layer_transfer_ms = transfer_ / static_cast<double>(loads);
            if (transfer_ > 0) t.h2d_gb_per_s = static_cast<double>(timed_bytes_in_) / (transfer_ * 1e6);
        }
        if (releases > 0) t.gpu_to_cpu_release_ms = release_;
        if (waits > 0) t.transfer_overhead_ms = stall_;
        std::size_t decodes = 0;
        for (auto const& l : layers_) decodes += l.decode_n;
        if (decodes > 0) t.decode_ms = decode_;
        t.theoretical_async_savings_ms = theoretical_;
        t.achieved_async_savings_ms = achieved_;
        t.overlap_efficiency = efficiency();
        t.pass_wall = wall_summary();
        s.timing = t;
        for (std::size_t i = 0; i < layers_.size() && i < s.layers.size(); ++i) {
            auto const& l = layers_[i];
            auto& out = s.layers[i];
            out.samples = l.samples;
            out.compute_ms = mean(l.compute, l.compute_n);
            out.transfer_ms = mean(l.transfer, l.transfer_n);
            out.stall_ms = mean(l.stall, l.stall_n);
            out.release_ms = mean(l.release, l.release_n);
            out.decode_ms = mean(l.decode, l.decode_n);
        }
    }

    // Overlap could save less than this share of the passes' time: the ratio of
    // two small, noisy numbers would tell nothing, so no efficiency is given.
    static constexpr double least_theoretical_share = 0.05;

    std::size_t passes() const noexcept { return passes_; }
    void reset() {
        *this = timing_accumulator(layers_.size());
    }

private:
    struct layer_sums {
        std::size_t samples = 0;
        double compute = 0, transfer = 0, stall = 0, release = 0, decode = 0;
        std::size_t compute_n = 0, transfer_n = 0, stall_n = 0, release_n = 0, decode_n = 0;
    };

    static void add_to(double& sum, std::size_t& n, std::optional<double> const& v, double& pass_total) {
        if (!v) return;
        sum += *v;
        ++n;
        pass_total += *v;
    }
    // Achieved over possible, within [0, 1]: achieved exceeds possible only by
    // the events' resolution, and falls below zero when the pass took longer
    // than its engines' work done one after the other (it was bound by the host).
    std::optional<double> efficiency() const {
        if (theoretical_ <= 0 || theoretical_ < least_theoretical_share * window_) return std::nullopt;
        return std::clamp(achieved_ / theoretical_, 0.0, 1.0);
    }
    static std::optional<double> mean(double sum, std::size_t n) {
        if (n == 0) return std::nullopt;
        return sum / static_cast<double>(n);
    }
    pass_wall_stats wall_summary() const {
        pass_wall_stats w;
        w.count = passes_;
        std::vector<double> sorted = recent_walls_;
        std::sort(sorted.begin(), sorted.end());
        std::size_t const mid = sorted.size() / 2;
        w.median_ms = sorted.size() % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        w.total_ms = wall_total_;
        w.min_ms = wall_min_;
        w.max_ms = wall_max_;
        w.last_ms = wall_last_;
        return w;
    }

    std::vector<layer_sums> layers_;
    std::size_t passes_ = 0;
    double wall_total_ = 0, wall_min_ = 0, wall_max_ = 0, wall_last_ = 0;
    std::vector<double> recent_walls_;
    std::size_t timed_bytes_in_ = 0;
    double transfer_ = 0, compute_ = 0, release_ = 0, decode_ = 0, stall_ = 0, theoretical_ = 0, achieved_ = 0,
           window_ = 0;
};

}  // namespace offload::detail
