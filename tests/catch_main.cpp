#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

// Catch 2.13's console reporter indents a wrapped test or section name to just
// after its first ": ". When that lands past the console width, TextFlow's
// line iterator never advances (an assert in debug builds, an endless loop of
// header output in release builds: 72 GB in a minute once, filling the disk).
// The header is printed only when a check fails, so the name is refused as
// soon as the test or section starts, whether it passes or not.
void refuse_unprintable_name(const std::string& name, std::size_t indent, const char* what) {
    const std::size_t colon = name.find(": ");
    if (colon == std::string::npos) return;
    const std::size_t wrap_indent = indent + colon + 2;
    // Catch leaves one column of the configured width unused.
    const std::size_t limit = CATCH_CONFIG_CONSOLE_WIDTH - 1;
    if (wrap_indent < limit - 8) return;
    std::fprintf(stderr,
                 "catch_main: %s name \"%s\" has its first \": \" at column %zu; Catch 2.13's console "
                 "reporter loops forever wrapping such a name when a check fails. Move the \": \" "
                 "before column %zu or drop it.\n",
                 what, name.c_str(), colon, limit - 8 - indent - 2);
    std::fflush(stderr);
    std::_Exit(2);
}

// catch_discover_tests hands CTest each test case's name as a list element: a ';'
// splits it into two CTest tests that match nothing.
void refuse_semicolon(const std::string& name) {
    if (name.find(';') == std::string::npos) return;
    std::fprintf(stderr, "catch_main: test case name \"%s\" contains ';', which splits it into two CTest tests; "
                 "use ',' or 'and'.\n", name.c_str());
    std::fflush(stderr);
    std::_Exit(2);
}

struct NameGuard : Catch::TestEventListenerBase {
    using TestEventListenerBase::TestEventListenerBase;
    void testCaseStarting(const Catch::TestCaseInfo& info) override {
        refuse_unprintable_name(info.name, 0, "test case");
        refuse_semicolon(info.name);
        TestEventListenerBase::testCaseStarting(info);
    }
    void sectionStarting(const Catch::SectionInfo& info) override {
        refuse_unprintable_name(info.name, 2, "section");
        TestEventListenerBase::sectionStarting(info);
    }
};

}  // namespace

CATCH_REGISTER_LISTENER(NameGuard)
