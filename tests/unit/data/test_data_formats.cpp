// Every source format -> documents with the right loss masks; field mapping; bad records named by
// file:line and field.
#include <catch2/catch.hpp>

#include "data/encode.h"
#include "data/packer.h"
#include "data/stream.h"
#include "data_fixtures.h"

using namespace pt;
using namespace pt::data;
using nlohmann::json;

namespace {
RecordEncoder encoder(Format f, std::map<std::string, std::string> fields = {}, int64_t vocab = 0) {
  SourceOptions s;
  s.path = "x.jsonl";
  s.format = f;
  s.fields = std::move(fields);
  return RecordEncoder(&testing::qwen3(), s, tok::MaskOptions{}, "data.sources[0]", vocab);
}
std::string trained_text(const Document& d) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < d.size(); ++i)
    if (d.trained[i]) ids.push_back(d.ids[i]);
  return testing::qwen3().tokenizer().decode(ids);
}
std::string all_text(const Document& d) { return testing::qwen3().tokenizer().decode(d.ids); }
}  // namespace

TEST_CASE("chat records train the assistant turns and their end-of-turn token", "[data][format]") {
  auto e = encoder(Format::Chat);
  auto ex = e.encode(R"({"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"2+2?"},)"
                     R"({"role":"assistant","content":"4"},{"role":"user","content":"3+3?"},{"role":"assistant","content":"6"}]})",
                     "f.jsonl:1");
  REQUIRE(ex.docs.size() == 1);
  CHECK(trained_text(ex.docs[0]) == "4<|im_end|><think>\n\n</think>\n\n6<|im_end|>");
  CHECK(all_text(ex.docs[0]).find("Be brief.") != std::string::npos);
}

TEST_CASE("chat records pass tools to the template", "[data][format]") {
  auto e = encoder(Format::Chat);
  auto ex = e.encode(R"({"messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":"sunny"}],)"
                     R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":{}}}]})",
                     "f.jsonl:1");
  CHECK(all_text(ex.docs[0]).find("get_weather") != std::string::npos);
  CHECK(trained_text(ex.docs[0]).find("sunny") != std::string::npos);
}

TEST_CASE("assistant tool calls are trained, tool results are not", "[data][format]") {
  auto e = encoder(Format::Chat);
  auto ex = e.encode(
      R"({"messages":[{"role":"user","content":"Weather in Paris?"},)"
      R"({"role":"assistant","content":"","tool_calls":[{"type":"function","function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},)"
      R"({"role":"tool","content":"sunny, 21C"},{"role":"assistant","content":"It is sunny."}],)"
      R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]})",
      "f.jsonl:2");
  const std::string trained = trained_text(ex.docs[0]);
  CHECK(trained.find("<tool_call>") != std::string::npos);
  CHECK(trained.find("\"name\": \"get_weather\"") != std::string::npos);
  CHECK(trained.find("It is sunny.") != std::string::npos);
  CHECK(trained.find("sunny, 21C") == std::string::npos);
  CHECK(all_text(ex.docs[0]).find("<tool_response>\nsunny, 21C") != std::string::npos);
}

TEST_CASE("prompt/completion trains the completion and EOS, plain or conversational", "[data][format]") {
  auto e = encoder(Format::PromptCompletion, {{"prompt", "question"}, {"completion", "answer"}});
  auto ex = e.encode(R"({"question":"The capital of France is","answer":" Paris."})", "f.jsonl:3");
  CHECK(trained_text(ex.docs[0]) == " Paris.<|im_end|>");
  CHECK(all_text(ex.docs[0]) == "The capital of France is Paris.<|im_end|>");
  auto conv = e.encode(R"({"question":[{"role":"user","content":"Capital of France?"}],"answer":"Paris"})", "f.jsonl:4");
  CHECK(trained_text(conv.docs[0]).find("Paris<|im_end|>") != std::string::npos);
  CHECK(trained_text(conv.docs[0]).find("Capital") == std::string::npos);
}

TEST_CASE("preference pairs become chosen then rejected, only the answers trained", "[data][format]") {
  auto e = encoder(Format::Preference);
  auto ex = e.encode(R"({"prompt":"Say hi:","chosen":" hi","rejected":" go away"})", "p.jsonl:1");
  REQUIRE(ex.docs.size() == 2);
  CHECK(trained_text(ex.docs[0]) == " hi<|im_end|>");
  CHECK(trained_text(ex.docs[1]) == " go away<|im_end|>");
  auto msgs = e.encode(R"({"prompt":[{"role":"user","content":"Say hi"}],"chosen":[{"role":"assistant","content":"hi"}],)"
                       R"("rejected":"go away"})",
                       "p.jsonl:2");
  REQUIRE(msgs.docs.size() == 2);
  CHECK(trained_text(msgs.docs[0]).find("hi<|im_end|>") != std::string::npos);
  CHECK(trained_text(msgs.docs[1]).find("go away<|im_end|>") != std::string::npos);
  CHECK(trained_text(msgs.docs[1]).find("Say hi") == std::string::npos);
}

TEST_CASE("RL prompts end with the generation prompt, train nothing and keep the answer and prompt as metadata", "[data][format]") {
  auto e = encoder(Format::Prompts, {{"answer", "solution"}});
  auto ex = e.encode(R"({"prompt":"What is 2+3?","solution":"5","level":2})", "r.jsonl:1");
  REQUIRE(ex.docs.size() == 1);
  CHECK(ex.docs[0].num_trained() == 0);
  CHECK(all_text(ex.docs[0]).size() > 20);
  CHECK(all_text(ex.docs[0]).substr(all_text(ex.docs[0]).size() - 22) == "<|im_start|>assistant\n");
  CHECK(ex.meta["answer"] == "5");
  CHECK(ex.meta["level"] == 2);
  CHECK(ex.meta["prompt"] == "What is 2+3?");  // a multi-turn environment's conversation opens with it
}

TEST_CASE("token id records take their own vocabulary and optional mask", "[data][format]") {
  SourceOptions s;
  s.path = "events.jsonl";
  s.format = Format::TokenIds;
  RecordEncoder e(nullptr, s, {}, "data.sources[1]", 50);
  auto ex = e.encode(R"({"ids":[3,4,5,6],"trained":[0,0,1,1]})", "e.jsonl:1");
  CHECK(ex.docs[0].ids == std::vector<int32_t>{3, 4, 5, 6});
  CHECK(ex.docs[0].trained == std::vector<uint8_t>{0, 0, 1, 1});
  auto all = e.encode(R"({"ids":[1,2]})", "e.jsonl:2");
  CHECK(all.docs[0].trained == std::vector<uint8_t>{1, 1});
  CHECK_THROWS_WITH(e.encode(R"({"ids":[1,99]})", "e.jsonl:3"),
                    Catch::Contains("e.jsonl:3: field 'ids[1]'") && Catch::Contains("[0, 50)"));
  CHECK_THROWS_WITH(e.encode(R"({"ids":[1,2],"trained":[1]})", "e.jsonl:4"), Catch::Contains("e.jsonl:4: field 'trained'"));
}

TEST_CASE("token id records carry optional per-position loss weights into the packed row", "[data][format]") {
  SourceOptions s;
  s.path = "events.jsonl";
  s.format = Format::TokenIds;
  RecordEncoder e(nullptr, s, {}, "data.sources[1]", 50);
  auto ex = e.encode(R"({"ids":[3,4,5,6],"trained":[0,1,1,1],"weights":[9,0.5,0,2]})", "e.jsonl:1");
  CHECK(ex.docs[0].weights == std::vector<float>{9, 0.5, 0, 2});
  // A label at position i is the next token: it carries that token's weight (the first token is
  // never a target, so its weight is unused); a row with one weighted document weights every label.
  Unit a{UnitRef{0, 0, 0}, ex}, b{UnitRef{0, 1, 0}, e.encode(R"({"ids":[7,8,9]})", "e.jsonl:2")};
  Row r = pack_row({a, b}, 10, 0, 0);
  CHECK(r.labels == std::vector<int32_t>{4, 5, 6, kIgnoreIndex, 8, 9, kIgnoreIndex, kIgnoreIndex, kIgnoreIndex,
                                         kIgnoreIndex});
  CHECK(r.label_weights == std::vector<float>{0.5, 0, 2, 0, 1, 1, 0, 0, 0, 0});
  CHECK(r.weight_sum == Approx(4.5));
  CHECK(r.num_trained == 5);
  // Without weights the row has none and its weight is its trained count.
  Row plain = pack_row({b}, 4, 0, 1);
  CHECK(plain.label_weights.empty());
  CHECK(plain.weight_sum == 2);
  for (const char* bad : {R"({"ids":[1,2],"weights":[1]})", R"({"ids":[1,2],"weights":[1,-1]})",
                          R"({"ids":[1,2],"weights":[1,"x"]})", R"({"ids":[1,2],"weights":{"a":1}})"})
    CHECK_THROWS_WITH(e.encode(bad, "e.jsonl:7"), Catch::Contains("e.jsonl:7: field 'weights"));
}

TEST_CASE("token classification records carry a label per position, cut with their positions", "[data][format]") {
  SourceOptions s;
  s.path = "tags.jsonl";
  s.format = Format::TokenClassification;
  RecordEncoder e(nullptr, s, {}, "data.sources[0]", 50);
  auto ex = e.encode(R"({"ids":[3,4,5,6],"labels":[-100,1,0,2]})", "t.jsonl:1");
  CHECK(ex.docs[0].ids == std::vector<int32_t>{3, 4, 5, 6});
  CHECK(ex.docs[0].num_trained() == 0);  // the loss is on the head
  CHECK(ex.meta["token_labels"] == nlohmann::json::array({-100, 1, 0, 2}));
  CHECK_THROWS_WITH(e.encode(R"({"ids":[3,4],"labels":[1]})", "t.jsonl:2"), Catch::Contains("t.jsonl:2: field 'labels'"));
  CHECK_THROWS_WITH(e.encode(R"({"ids":[3,4],"labels":[1,-3]})", "t.jsonl:3"), Catch::Contains("t.jsonl:3: field 'labels[1]'"));
  CHECK_THROWS_WITH(e.encode(R"({"ids":[3,4],"labels":[-100,-100]})", "t.jsonl:4"), Catch::Contains("teaches nothing"));
  CHECK_THROWS_WITH(e.encode(R"({"ids":[3,4]})", "t.jsonl:5"), Catch::Contains("t.jsonl:5") && Catch::Contains("labels"));
  // Truncation keeps labels aligned with the positions that remain.
  testing::TempDir dir;
  DataOptions o;
  s.path = dir.write("tags.jsonl", {R"({"ids":[1,2,3,4,5,6,7,8,9,10,11,12],"labels":[0,1,2,0,1,2,0,1,2,0,1,2]})"});
  for (auto [policy, first] : {std::pair{Truncation::Right, 0}, std::pair{Truncation::Left, 1}}) {
    s.truncation = policy;
    o.sources = {s};
    o.seq_len = 8;
    DataSet ds(o, nullptr, {}, 1, 50);
    DocStream st(ds, DocStream::Split::Train);
    auto u = st.next();
    REQUIRE(u);
    CHECK(u->ex.docs[0].size() == 8);
    REQUIRE(u->ex.meta["token_labels"].size() == 8);
    CHECK(u->ex.meta["token_labels"][0] == first);
  }
  s.truncation = Truncation::Split;
  o.sources = {s};
  DataSet ds(o, nullptr, {}, 1, 50);
  DocStream st(ds, DocStream::Split::Train);
  auto a = st.next(), b = st.next();
  REQUIRE((a && b));
  CHECK(a->ex.meta["token_labels"].size() == 8);
  CHECK(b->ex.docs[0].ids == std::vector<int32_t>{9, 10, 11, 12});
  CHECK(b->ex.meta["token_labels"] == nlohmann::json::array({2, 0, 1, 2}));
}

TEST_CASE("plain text is tokenized whole and ends with EOS", "[data][format]") {
  auto e = encoder(Format::Text);
  auto ex = e.encode(R"({"text":"Hello world"})", "t.jsonl:1");
  CHECK(all_text(ex.docs[0]) == "Hello world<|im_end|>");
  CHECK(ex.docs[0].num_trained() == ex.docs[0].size());
}

TEST_CASE("bad records name file:line and the field", "[data][format][bad]") {
  auto e = encoder(Format::Chat);
  CHECK_THROWS_AS(e.encode("{\"messages\": [", "d.jsonl:7"), BadRecord);
  CHECK_THROWS_WITH(e.encode("{\"messages\": [", "d.jsonl:7"), Catch::Contains("d.jsonl:7: malformed JSON"));
  CHECK_THROWS_WITH(e.encode(R"({"mesages":[]})", "d.jsonl:8"),
                    Catch::Contains("d.jsonl:8: missing field 'messages'") && Catch::Contains("did you mean 'mesages'"));
  CHECK_THROWS_WITH(e.encode(R"({"messages":"hi"})", "d.jsonl:9"),
                    Catch::Contains("d.jsonl:9: field 'messages'") && Catch::Contains("got string"));
  CHECK_THROWS_WITH(e.encode(R"({"messages":[{"content":"x"}]})", "d.jsonl:10"),
                    Catch::Contains("d.jsonl:10: field 'messages[0].role'"));
  CHECK_THROWS_WITH(e.encode(R"({"messages":[{"role":"user","content":"only a question"}]})", "d.jsonl:11"),
                    Catch::Contains("d.jsonl:11"));
  CHECK_THROWS_WITH(e.encode("[1,2]", "d.jsonl:12"), Catch::Contains("d.jsonl:12: expected a JSON object"));
  // An unknown role would be rendered (or skipped) silently by the template: a bad record.
  CHECK_THROWS_WITH(e.encode(R"({"messages":[{"role":"usr","content":"hi"},{"role":"assistant","content":"yo"}]})", "d.jsonl:13"),
                    Catch::Contains("d.jsonl:13: field 'messages[0].role': unknown role 'usr'") &&
                        Catch::Contains("did you mean 'user'"));
  auto t = encoder(Format::Text);
  CHECK_THROWS_WITH(t.encode(R"({"text":5})", "t.jsonl:2"), Catch::Contains("t.jsonl:2: field 'text': expected a string, got number"));
}

TEST_CASE("an unknown field mapping is a recipe error with a suggestion", "[data][format][bad]") {
  CHECK_THROWS_WITH(encoder(Format::Chat, {{"mesages", "conversation"}}),
                    Catch::Contains("data.sources[0].fields.mesages") && Catch::Contains("did you mean 'messages'"));
}
