#pragma once
// A program's command line as one table of options, {name, value name, help,
// allowed, apply}: the table generates --help, the parsing (Boost.Program_options)
// and every error line, so that what --help says is what the parser accepts.
//
// Rows are applied in the order they were added, whatever the order on the
// command line; then the checks run, in the order they were added. run()
// turns every failure into one line on stderr: a bad command line exits 2, a
// good one that cannot run here (environment_error) or a failed run exits 1.
#include <algorithm>
#include <exception>
#include <functional>
#include <iostream>
#include <new>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <boost/program_options.hpp>

#include "errors.hpp"
#include "values.hpp"

namespace offload_examples {

struct option {
    std::string name;        // without dashes: "layers"
    std::string value_name;  // "N", "PATH"; empty for a flag, which takes no value
    std::string help;
    option_value value;  // what is allowed, and what to do with a value
};

class command_line {
public:
    // `about`: the first paragraph of --help.
    command_line(std::string program, std::string about) : program_(std::move(program)), about_(std::move(about)) {}

    void add(option o) { rows_.push_back(std::move(o)); }
    // A check across options, run once every given option is applied; it throws usage_error.
    void check(std::function<void()> c) { checks_.push_back(std::move(c)); }
    // A paragraph after the options in --help.
    void note(std::string text) { notes_.push_back(std::move(text)); }

    std::string const& program() const { return program_; }

    // "allowed: ..." for an option (with its dashes); for anything else the list of options.
    std::string allowed(std::string const& option) const {
        for (auto const& r : rows_)
            if ("--" + r.name == option) return "allowed: " + r.value.allowed;
        std::string names = "--help";
        for (auto const& r : rows_) names += ", --" + r.name;
        return "allowed options: " + names + " (see " + program_ + " --help)";
    }

    void print_help(std::ostream& out) const { out << about_ << "\n\n" << describe() << help_notes(); }

    // Parses, applies and checks argv; false when --help was printed.
    bool parse(int argc, char** argv) {
        namespace po = boost::program_options;
        auto const desc = describe();  // kept alive: the parsed options refer into it
        po::options_description all;
        all.add(desc);
        all.add_options()("unexpected-argument", po::value<std::vector<std::string>>());
        po::positional_options_description positional;
        positional.add("unexpected-argument", -1);

        po::variables_map vm;
        // No guessing of abbreviated option names: --gpu would be ambiguous, --lay a typo.
        int const style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
        po::store(po::command_line_parser(argc, argv).options(all).positional(positional).style(style).run(), vm);
        po::notify(vm);

        // Boost takes the next token as the value even when it is an option, so
        // "--stats-json --layers 4" would write to a file named --layers: a value
        // that starts with -- is the next option, and this one lacks its value.
        for (auto const& [name, value] : vm)
            if (auto const* v = boost::any_cast<std::string>(&value.value()); v && v->rfind("--", 0) == 0)
                throw usage_error{"--" + name, "missing value (" + quoted(*v) + " is the next option)", ""};
        if (vm.count("unexpected-argument")) {
            auto const& v = vm["unexpected-argument"].as<std::vector<std::string>>();
            throw usage_error{quoted(v.front()), "unexpected argument (options start with --)", allowed("")};
        }
        if (vm.count("help")) {
            print_help(std::cout);
            return false;
        }
        for (auto const& r : rows_)
            if (vm.count(r.name))
                r.value.apply("--" + r.name, r.value_name.empty() ? std::string() : vm[r.name].as<std::string>());
        for (auto const& c : checks_) c();
        return true;
    }

    // main(): parse, then body(); every failure becomes one line on stderr and an exit code.
    int run(int argc, char** argv, std::function<int()> const& body) {
        try {
            if (!parse(argc, argv)) return 0;
            return body();
        } catch (usage_error const& e) {
            return report(e.option, e.what, e.allowed.empty() ? allowed(e.option) : e.allowed, 2);
        } catch (environment_error const& e) {
            return report(e.option, e.what, e.allowed, 1);
        } catch (boost::program_options::error const& e) {
            return report_parser_error(e);
        } catch (std::bad_alloc const&) {
            return report_failure("out of host memory");
        } catch (std::exception const& e) {
            return report_failure(e.what());
        } catch (...) {
            return report_failure("unknown exception");
        }
    }

private:
    boost::program_options::options_description describe() const {
        namespace po = boost::program_options;
        po::options_description o(program_ + " options");
        o.add_options()("help,h", "print this help and exit");
        for (auto const& r : rows_) {
            if (r.value_name.empty()) {
                o.add_options()(r.name.c_str(), r.help.c_str());
            } else {
                std::string const text = r.help + "; allowed: " + r.value.allowed;
                o.add_options()(r.name.c_str(), po::value<std::string>()->value_name(r.value_name), text.c_str());
            }
        }
        return o;
    }

    std::string help_notes() const {
        std::string text;
        for (auto const& n : notes_) text += "\n" + n + "\n";
        return text + "\nErrors: a bad command line exits with 2, a failed run with 1, each with one line on stderr.\n";
    }

    static std::string one_line(std::string s) {
        std::replace(s.begin(), s.end(), '\n', ' ');
        std::replace(s.begin(), s.end(), '\r', ' ');
        return s;
    }

    int report(std::string const& option, std::string const& what, std::string const& allowed, int code) const {
        std::string line = program_ + ": error: " + option + ": " + what;
        if (!allowed.empty()) line += "; " + allowed;
        std::cerr << one_line(line) << '\n';
        return code;
    }

    int report_failure(std::string const& what) const {
        std::string text = what;
        if (text.rfind("offload: ", 0) == 0) text.erase(0, 9);
        std::cerr << one_line(program_ + ": error: " + text) << '\n';
        return 1;
    }

    // Boost.Program_options' errors, in the one-line form.
    int report_parser_error(boost::program_options::error const& e) const {
        namespace po = boost::program_options;
        auto const* named = dynamic_cast<po::error_with_option_name const*>(&e);
        std::string option = named ? named->get_option_name() : std::string();
        if (option.empty()) option = "command line";
        if (dynamic_cast<po::unknown_option const*>(&e)) return report(option, "unknown option", allowed(""), 2);
        if (dynamic_cast<po::multiple_occurrences const*>(&e))
            return report(option, "given more than once", allowed(option), 2);
        if (auto const* syntax = dynamic_cast<po::invalid_command_line_syntax const*>(&e)) {
            switch (syntax->kind()) {
                case po::invalid_syntax::missing_parameter: return report(option, "missing value", allowed(option), 2);
                case po::invalid_syntax::extra_parameter: return report(option, "takes no value", allowed(""), 2);
                default: break;
            }
        }
        if (dynamic_cast<po::ambiguous_option const*>(&e)) return report(option, "ambiguous option", allowed(""), 2);
        return report(option, e.what(), allowed(option), 2);
    }

    std::string program_, about_;
    std::vector<option> rows_;
    std::vector<std::function<void()>> checks_;
    std::vector<std::string> notes_;
};

}  // namespace offload_examples
