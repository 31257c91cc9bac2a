// Jinja engine semantics that chat templates rely on, checked against what jinja2 (with
// transformers' trim_blocks/lstrip_blocks environment) prints for the same source.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "tokenizer/jinja/template.h"

using namespace pt;

namespace {
std::string render(const std::string& src, const nlohmann::ordered_json& ctx = nlohmann::ordered_json::object()) {
  jinja::CompiledTemplate t(src, "test");
  auto d = std::make_shared<jinja::Dict>();
  for (auto it = ctx.begin(); it != ctx.end(); ++it) d->set(it.key(), jinja::Value::from_json(it.value()));
  return t.render(d).text;
}
}  // namespace

TEST_CASE("jinja: loops, loop variables and loop else", "[tokenizer][jinja]") {
  nlohmann::ordered_json ctx = {{"xs", {"a", "b", "c"}}};
  CHECK(render("{% for x in xs %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}", ctx) ==
        "1a,2b,3c");
  CHECK(render("{% for x in xs %}{{ loop.index0 }}{{ loop.revindex }}{{ loop.length }}{% endfor %}", ctx) ==
        "033123213");
  CHECK(render("{% for x in [] %}x{% else %}empty{% endfor %}") == "empty");
  CHECK(render("{% for x in xs[::-1] %}{{ x }}{% endfor %}", ctx) == "cba");
}

TEST_CASE("jinja: whitespace control with trim_blocks and lstrip_blocks", "[tokenizer][jinja]") {
  // trim_blocks eats the newline after a block tag; lstrip_blocks the indentation before it.
  CHECK(render("{% if true %}\n  x\n    {% endif %}\ny") == "  x\ny");
  CHECK(render("a  {{- ' b ' -}}  c") == "a b c");
  CHECK(render("a {# note #}\nb") == "a b");
}

TEST_CASE("jinja: set, namespace, macros and inline if", "[tokenizer][jinja]") {
  CHECK(render("{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}") ==
        "6");
  CHECK(render("{% set b %}in{{ 1 + 1 }}{% endset %}[{{ b }}]") == "[in2]");
  CHECK(render("{% macro m(a, b='d') %}{{ a }}-{{ b }}{% endmacro %}{{ m(1) }} {{ m(1, b=2) }}") == "1-d 1-2");
  CHECK(render("{{ 'y' if 2 > 1 else 'n' }}{{ 'y' if none else 'n' }}") == "yn");
}

TEST_CASE("jinja: arithmetic, comparisons and concatenation", "[tokenizer][jinja]") {
  CHECK(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ 2 ** 10 }} {{ 7 / 2 }}") == "3 -4 1 1024 3.5");
  CHECK(render("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }}") == "True False");
  CHECK(render("{{ 'a' ~ 1 ~ none }}") == "a1None");
  CHECK(render("{{ 'b' in 'abc' }} {{ 'z' not in ['a'] }}") == "True True");
}

TEST_CASE("jinja: filters and tests used by chat templates", "[tokenizer][jinja]") {
  nlohmann::ordered_json ctx = {{"d", {{"b", 1}, {"a", "é"}}}, {"ms", {{{"role", "user"}}, {{"role", "tool"}}}}};
  CHECK(render("{{ d | tojson }}", ctx) == "{\"b\": 1, \"a\": \"é\"}");
  CHECK(render("{{ d | tojson(indent=2) }}", ctx) == "{\n  \"b\": 1,\n  \"a\": \"é\"\n}");
  CHECK(render("{{ '  x ' | trim }}|{{ 'ab' | upper }}|{{ 'hello world' | title }}|{{ [1,2,3] | join('-') }}") ==
        "x|AB|Hello World|1-2-3");
  CHECK(render("{{ ms | selectattr('role', 'equalto', 'tool') | list | length }}", ctx) == "1");
  CHECK(render("{{ ms | map(attribute='role') | join(',') }}", ctx) == "user,tool");
  CHECK(render("{{ undefined_name | default('dflt') }}") == "dflt");
  CHECK(render("{{ x is defined }} {{ none is none }} {{ 3 is odd }} {{ d is mapping }} {{ 'a' is string }}", ctx) ==
        "False True True True True");
}

TEST_CASE("jinja: string and dict methods", "[tokenizer][jinja]") {
  nlohmann::ordered_json ctx = {{"d", {{"k", "v"}}}};
  CHECK(render("{{ ' a b '.strip().split(' ') | length }}") == "2");
  CHECK(render("{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith('x') }} {{ 'a-b'.replace('-', '+') }}") ==
        "True False a+b");
  CHECK(render("{% for k, v in d.items() %}{{ k }}={{ v }}{% endfor %}{{ d.get('z', 'none') }}", ctx) == "k=vnone");
}

TEST_CASE("jinja: errors name the template and line", "[tokenizer][jinja]") {
  CHECK_THROWS_WITH(render("line1\n{% if x %}unclosed"), Catch::Contains("test:2"));
  CHECK_THROWS_WITH(render("{{ raise_exception('bad role') }}"), Catch::Contains("bad role"));
  CHECK_THROWS_AS(render("{% for %}"), pt::Error);
}

TEST_CASE("jinja: generation blocks record assistant spans", "[tokenizer][jinja]") {
  jinja::CompiledTemplate t("<a>{% generation %}hi{% endgeneration %}</a>", "gen");
  auto r = t.render(std::make_shared<jinja::Dict>());
  CHECK(r.text == "<a>hi</a>");
  REQUIRE(r.generation_spans.size() == 1);
  CHECK(r.generation_spans[0] == std::make_pair(size_t(3), size_t(5)));
}
