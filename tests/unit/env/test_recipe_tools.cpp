// The recipe's tools: a command tool's replies, its failures as error messages the model sees (never
// a throw), one process per command shared by its tools, close messages per episode; the `tools`
// environment's turns (calls answered, the first turn without one ends the episode).
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <sstream>

#include "env/environment.h"
#include "env/tools.h"
#include "../temp_dir.h"

using namespace pt;

namespace {

// A price list as an external tool: `price` answers, `fail` replies {"error"}, `misbehave` does what
// its argument says (garbage, crash, hang); every line received is appended to LOG.
const char* kTool = R"(import json, sys, time
log = open(sys.argv[1], "a")
for line in sys.stdin:
    log.write(line); log.flush()
    m = json.loads(line)
    if m["type"] == "close": continue
    a = m["arguments"]
    if m["tool"] == "price":
        print(json.dumps({"content": {"apple": "3", "pear": "5"}.get(a["item"], "unknown item")}), flush=True)
    elif m["tool"] == "fail":
        print(json.dumps({"error": "the shop is closed"}), flush=True)
    elif a["how"] == "garbage":
        print("oops", flush=True)
    elif a["how"] == "crash":
        sys.exit(3)
    elif a["how"] == "hang":
        time.sleep(30)
    elif a["how"] == "json":
        print(json.dumps({"content": {"n": 1}}), flush=True)
)";

algo::ToolOptions tool(const std::string& name, const std::string& command) {
  algo::ToolOptions t;
  t.name = name;
  t.description = "test tool " + name;
  t.command = command;
  t.timeout_s = 2;
  return t;
}

std::string call(const std::string& name, const std::string& args) {
  return "<tool_call>{\"name\": \"" + name + "\", \"arguments\": " + args + "}</tool_call>";
}

std::string content(const env::Messages& m) { return m["content"].get<std::string>(); }

}  // namespace

TEST_CASE("command tools answer calls and their failures are error messages", "[env][tools][recipe_tools]") {
  testing::TempDir dir;
  const std::string script = dir.write("tool.py", {kTool});
  const std::string log = dir.path + "/log.jsonl";
  const std::string cmd = "python3 -u " + script + " " + log;
  auto price = tool("price", cmd);
  price.parameters.value = nlohmann::ordered_json::parse(
      R"({"type": "object", "properties": {"item": {"type": "string"}}, "required": ["item"]})");
  auto misbehave = tool("misbehave", cmd);
  misbehave.parameters.value = nlohmann::ordered_json::parse(R"({"type": "object", "properties": {"how": {"type": "string"}}})");
  std::vector<algo::ToolOptions> opts{price, tool("fail", cmd), misbehave, algo::ToolOptions{}};
  opts.back().name = "calculator";  // a built-in beside them
  env::ToolBox box(env::recipe_tools(opts), algo::ToolFormat::Hermes);
  REQUIRE(box.schemas().size() == 4);
  CHECK(box.schemas()[1]["function"]["parameters"]["properties"].empty());  // none declared: takes no arguments
  CHECK(box.schemas()[3]["function"]["description"].get<std::string>().find("arithmetic") != std::string::npos);

  auto a = box.answer(call("price", R"({"item": "pear"})") + call("price", R"({"thing": 1})") + call("fail", "{}") +
                          call("calculator", R"({"expression": "6*7"})") + call("misbehave", R"({"how": "json"})"),
                      7);
  REQUIRE(a.messages.size() == 5);
  CHECK(a.ok == 3);
  CHECK(a.failed == 2);
  CHECK(content(a.messages[0]) == "5");
  CHECK(content(a.messages[1]).find("missing required argument 'item'") != std::string::npos);  // checked before it runs
  CHECK(content(a.messages[2]) == "error: the shop is closed");
  CHECK(content(a.messages[3]) == "42");
  CHECK(content(a.messages[4]) == R"({"n":1})");  // non-string content: its JSON text

  for (const std::string how : {"garbage", "crash", "hang"}) {
    INFO(how);
    const auto t0 = std::chrono::steady_clock::now();
    auto bad = box.answer(call("misbehave", "{\"how\": \"" + how + "\"}") + call("price", R"({"item": "apple"})"), 8);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
    REQUIRE(bad.messages.size() == 2);
    CHECK(bad.failed == 1);
    CHECK(content(bad.messages[0]).find("tool command '" + cmd + "'") != std::string::npos);
    CHECK(content(bad.messages[1]) == "3");  // a fresh process answers the next call
  }

  box.close(8);
  box.close(99);  // never called: nothing sent
  CHECK(box.answer(call("price", R"({"item": "apple"})"), 9).ok == 1);  // a round trip: the close was read before it
  std::ifstream f(log);
  std::stringstream all;
  all << f.rdbuf();
  CHECK(all.str().find(R"({"episode":8,"type":"close"})") != std::string::npos);
  CHECK(all.str().find(R"("episode":99)") == std::string::npos);
  CHECK(all.str().find(R"({"arguments":{"item":"pear"},"episode":7,"tool":"price","type":"call"})") != std::string::npos);
}

TEST_CASE("the tools environment answers calls until a turn makes none", "[env][tools][recipe_tools]") {
  algo::EnvironmentOptions o;
  o.name = "tools";
  o.tools.resize(1);
  o.tools[0].name = "calculator";
  auto e = env::make_tool_use(o);
  const auto op = e->reset(1, nlohmann::json::object(), 5);
  CHECK(op.messages.empty());  // the record's prompt
  REQUIRE(op.tools.size() == 1);
  CHECK(e->tools() == op.tools);
  env::AssistantTurn t;
  t.text_raw = call("calculator", R"({"expression": "1+"})");
  auto first = e->step(1, t);
  CHECK(!first.done);
  CHECK(first.tool_calls_failed == 1);
  CHECK(first.messages[0]["role"] == "tool");
  t.text_raw = t.text = "The answer is 2.";
  t.index = 1;
  auto last = e->step(1, t);
  CHECK(last.done);
  CHECK(last.reward == 0);
  CHECK(last.messages.empty());
  o.tools.clear();
  CHECK_THROWS_WITH(env::make_tool_use(o), Catch::Contains("declares no tool"));
}
