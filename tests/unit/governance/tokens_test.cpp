// Token estimates: exact values of the documented formula, and its error against real counts.
#include "governance/tokens.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace g = stratus::governance;
namespace json = boost::json;

namespace {

json::value body(std::string_view text) { return json::parse(text); }

json::value real_counts() {
  std::ifstream in(std::filesystem::path(STRATUS_TEST_DATA) / "governance" /
                   "openai_token_counts.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

}  // namespace

TEST(TokenEstimate, Text_AsciiQuarterBytesNonAsciiOnePerCodePoint) {
  EXPECT_EQ(g::estimate_text_tokens(""), 0);
  EXPECT_EQ(g::estimate_text_tokens("hello"), 2);     // ceil(5/4)
  EXPECT_EQ(g::estimate_text_tokens("12345678"), 2);  // 8/4
  EXPECT_EQ(g::estimate_text_tokens("你好"), 2);      // 2 code points, 6 bytes
  EXPECT_EQ(g::estimate_text_tokens("héllo"), 2);     // ceil(4/4) + 1
  EXPECT_EQ(g::estimate_text_tokens("😀"), 1);         // one 4-byte code point
}

TEST(TokenEstimate, Chat_FormulaExactly) {
  // 3 per request + (4 + 2 for "hello") for the message.
  EXPECT_EQ(
      g::estimate_chat_prompt_tokens(body(R"({"messages":[{"role":"user","content":"hello"}]})")),
      9);
  // name adds per_name + its text: 4 + 1 ("hi") + 1 + 2 ("bob_x")
  EXPECT_EQ(g::estimate_chat_prompt_tokens(
                body(R"({"messages":[{"role":"user","name":"bob_x","content":"hi"}]})")),
            3 + 4 + 1 + 1 + 2);
  // content parts: text + image (auto: 765) + image (low: 85) + audio + file
  EXPECT_EQ(g::estimate_chat_prompt_tokens(body(R"({"messages":[{"role":"user","content":[
      {"type":"text","text":"look"},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},
      {"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}},
      {"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}},
      {"type":"file","file":{"file_id":"f"}}]}]})")),
            3 + 4 + 1 + 765 + 85 + 1000 + 1000);
  // assistant tool calls: per_tool_call + name + arguments
  EXPECT_EQ(g::estimate_chat_prompt_tokens(body(R"({"messages":[{"role":"assistant","content":null,
      "tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather",
      "arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"sunny"}]})")),
            3 + (4 + 8 + 3 + 4) + (4 + 2));
}

TEST(TokenEstimate, Chat_OptionsChangeTheCounts) {
  g::EstimateOptions o;
  o.per_image = 1000;
  o.per_message = 10;
  EXPECT_EQ(g::estimate_chat_prompt_tokens(
                body(R"({"messages":[{"role":"user","content":[{"type":"image_url",
                    "image_url":{"url":"u"}}]}]})"),
                o),
            3 + 10 + 1000);
}

TEST(TokenEstimate, Chat_ToolsAndSchemaCount) {
  const auto plain = body(R"({"messages":[{"role":"user","content":"hi"}]})");
  const auto tools = body(R"({"messages":[{"role":"user","content":"hi"}],
      "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]})");
  const auto schema = body(R"({"messages":[{"role":"user","content":"hi"}],
      "response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object"}}}})");
  const long base = g::estimate_chat_prompt_tokens(plain);
  const auto tool_json =
      json::serialize(tools.at("tools").as_array()[0]);  // counted as serialized bytes / 4
  EXPECT_EQ(g::estimate_chat_prompt_tokens(tools),
            base + 8 + static_cast<long>((tool_json.size() + 3) / 4));
  const auto schema_json = json::serialize(schema.at("response_format").at("json_schema"));
  EXPECT_EQ(g::estimate_chat_prompt_tokens(schema),
            base + static_cast<long>((schema_json.size() + 3) / 4));
}

TEST(TokenEstimate, Chat_MalformedBodiesCountZero) {
  EXPECT_EQ(g::estimate_chat_prompt_tokens(body("[1,2]")), 0);
  EXPECT_EQ(g::estimate_chat_prompt_tokens(body(R"({"messages":"hi"})")), 0);
  EXPECT_EQ(g::estimate_chat_prompt_tokens(body(R"({"messages":[1,{"content":5}]})")), 3 + 4);
}

// The error bounds stated in tokens.h, against counts OpenAI's API returned.
TEST(TokenEstimate, AgainstRealCounts_ErrsHighWithinStatedBounds) {
  const auto cases = real_counts();
  ASSERT_EQ(cases.as_array().size(), 2u);
  const auto& conv = cases.as_array()[0].as_object();
  const auto& tools = cases.as_array()[1].as_object();
  const long conv_est = g::estimate_chat_prompt_tokens(conv.at("body"));
  const long tools_est = g::estimate_chat_prompt_tokens(tools.at("body"));
  EXPECT_EQ(conv_est, 160);
  EXPECT_EQ(tools_est, 146);
  for (const auto* c : {&conv, &tools}) {
    const long est = g::estimate_chat_prompt_tokens(c->at("body"));
    for (const auto* enc : {"cl100k_base", "o200k_base"}) {
      const double real = static_cast<double>(c->at("prompt_tokens").at(enc).as_int64());
      const double err = (static_cast<double>(est) - real) / real;
      EXPECT_GE(err, 0.0) << c->at("name").as_string() << " " << enc;
      EXPECT_LE(err, 0.50) << c->at("name").as_string() << " " << enc;
    }
  }
}

TEST(TokenEstimate, Embeddings_AllInputShapes) {
  EXPECT_EQ(g::estimate_embeddings_tokens(body(R"({"input":"hello world!"})")), 3);
  EXPECT_EQ(g::estimate_embeddings_tokens(body(R"({"input":["abcd","abcdefgh"]})")), 1 + 2);
  EXPECT_EQ(g::estimate_embeddings_tokens(body(R"({"input":[1,2,3]})")), 3);
  EXPECT_EQ(g::estimate_embeddings_tokens(body(R"({"input":[[1,2,3],[4,5]]})")), 5);
  EXPECT_EQ(g::estimate_embeddings_tokens(body(R"({"input":7})")), 0);
  EXPECT_EQ(g::estimate_embeddings_tokens(body(R"({"model":"x"})")), 0);
  EXPECT_EQ(g::estimate_embeddings_tokens(body("null")), 0);
}

TEST(TokenEstimate, WorstCaseOutput_MaxCompletionThenMaxTokensThenDefaultTimesN) {
  EXPECT_EQ(g::worst_case_output_tokens(body(R"({"max_tokens":100})")), 100);
  EXPECT_EQ(g::worst_case_output_tokens(body(R"({"max_tokens":100,"max_completion_tokens":50})")),
            50);
  EXPECT_EQ(g::worst_case_output_tokens(body(R"({})")), 4096);
  g::EstimateOptions o;
  o.default_max_output = 1000;
  EXPECT_EQ(g::worst_case_output_tokens(body(R"({"n":3})"), o), 3000);
  EXPECT_EQ(g::worst_case_output_tokens(body(R"({"max_tokens":10,"n":1})")), 10);
  EXPECT_EQ(g::worst_case_output_tokens(body(R"({"max_tokens":"many"})"), o), 1000);
  EXPECT_EQ(g::worst_case_output_tokens(body("[]"), o), 1000);
}

// The one-pass estimate gives the tree's numbers for every body it takes, takes the usual ones,
// and leaves to the tree every body with a part it does not read.
TEST(TokenEstimate, OnePass_SameAsTheTreeOrDeclines) {
  const std::vector<std::string> taken = {
      R"({"model":"bench","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write one sentence about the sea."}],"stream":false})",
      R"({"model":"m","messages":[{"role":"user","content":"héllo wörld 你好 😀"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"line\nnext \"quoted\" \u00e9 \ud83d\ude00 \\ end"}]})",
      R"({"model":"m","messages":[{"role":"user","name":"bob","content":"hi"},{"role":"assistant","content":null,"refusal":"I can't help with that."}]})",
      R"({"model":"m","messages":[1,"x",[{"content":"zzzz zzzz"}],{"role":"user","content":"ok"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"a","audio":{"content":"nested","na\u006de":"n"},"extra":[{"name":"x"}]}]})",
      R"({"model":"m","messages":[{"role":"user","content":5,"name":7,"refusal":false}]})",
      R"({"model":"m","messages":[]})",
      R"({"model":"m","messages":[{"role":"user","content":"abc"}],"max_completion_tokens":100,"max_tokens":7})",
      R"({"model":"m","messages":[{"role":"user","content":"abc"}],"max_tokens":50,"n":3})",
      R"({"model":"m","messages":[{"role":"user","content":"abc"}],"max_tokens":-5,"n":2})",
      R"({"model":"m","messages":[{"role":"user","content":"abc"}],"max_tokens":"100","n":null})",
      R"({"model":"m","messages":[{"role":"user","content":"abc"}],"max_tokens":1e3,"n":2.7})",
      R"({"model":"m","messages":[{"role":"user","content":"abc"}],"max_tokens":18446744073709551615})",
      R"({"model":"m","messages":[{"role":"user","content":"abc"}],"max_tokens":[1],"max_completion_tokens":{"a":1}})",
      R"({"model":"m","\u006dessages":[{"role":"user","con\u0074ent":"hi there"}]})",
      R"({"max_tokens":9,"messages":[{"content":"before the model","role":"user"}],"model":"m","stream_options":{"include_usage":true}})",
  };
  const std::vector<std::string> declined = {
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]})",
      R"({"model":"m","messages":[{"role":"user","content":{"text":"hi"}}]})",
      R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{}"}}]}]})",
      R"({"model":"m","messages":[{"role":"assistant","function_call":{"name":"f","arguments":"{}"}}]})",
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}]})",
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"functions":[{"name":"f"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}})",
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"messages":[]})",
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":1,"max_tokens":2})",
      R"({"model":"m","messages":[{"role":"user","content":"hi","content":"again"}]})",
      R"({"model":"m","messages":{"role":"user","content":"hi"}})",
      R"({"model":"m"})",
      R"([{"messages":[]}])",
      R"({"model":"m","messages":[{"role":"user","content":"hi"}]} trailing)",
      R"({"model":"m","messages":[{"role":"user","content":"hi"})",
  };
  g::EstimateOptions other;
  other.per_request = 5;
  other.per_message = 2;
  other.per_name = 3;
  other.default_max_output = 777;
  for (const g::EstimateOptions& o : {g::EstimateOptions{}, other}) {
    for (const auto& text : taken) {
      const auto e = g::estimate_chat_text(text, o);
      ASSERT_TRUE(e.has_value()) << text;
      const auto tree = body(text);
      EXPECT_EQ(e->prompt, g::estimate_chat_prompt_tokens(tree, o)) << text;
      EXPECT_EQ(e->max_output, g::worst_case_output_tokens(tree, o)) << text;
    }
    for (const auto& text : declined) EXPECT_FALSE(g::estimate_chat_text(text, o)) << text;
  }
  // The cookbook's six-message conversation (names included) is taken; the tools request is not.
  const auto cases = real_counts();
  const auto conv = json::serialize(cases.as_array()[0].as_object().at("body"));
  const auto tools = json::serialize(cases.as_array()[1].as_object().at("body"));
  ASSERT_TRUE(g::estimate_chat_text(conv));
  EXPECT_EQ(g::estimate_chat_text(conv)->prompt, 160);
  EXPECT_FALSE(g::estimate_chat_text(tools));
}
