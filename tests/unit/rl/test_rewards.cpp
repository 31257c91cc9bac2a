// Reward functions: answer extraction, the built-ins, the weighted sum, and the external command
// with its failure modes (crash, hang past the timeout, garbage), as errors naming the reward and the
// offending line, or as unscored batches under on_error: skip.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>

#include "registry/builtins.h"
#include "rl/rewards.h"

using namespace pt;

namespace {
rl::RewardSample sample(const std::string& completion, const std::string& answer, int64_t tokens = 5) {
  rl::RewardSample s;
  s.prompt = "p";
  s.completion = completion;
  s.record = {{"answer", answer}};
  s.completion_tokens = tokens;
  return s;
}
algo::RewardOptions opts(const std::string& name) {
  algo::RewardOptions o;
  o.name = name;
  return o;
}
}  // namespace

TEST_CASE("final answers are extracted like graders do", "[rl][rewards]") {
  CHECK(rl::extract_answer("so the total is 12\n#### 42") == "42");
  CHECK(rl::extract_answer("x = \\boxed{\\frac{1}{2}} done") == "\\frac{1}{2}");
  CHECK(rl::extract_answer("<think>hmm 7</think>\n\n  8642 ") == "8642");
  CHECK(rl::extract_answer("line one\nanswer two\n") == "answer two");
  CHECK(rl::last_number("it costs $1,234.50 or -3") == -3);
  CHECK(rl::last_number("it costs $1,234.50") == 1234.5);
  CHECK(std::isnan(rl::last_number("no digits")));
}

TEST_CASE("built-in rewards and their weighted sum", "[rl][rewards]") {
  std::vector<rl::RewardSample> b{sample("#### 42", "42"), sample("#### 41", "42"), sample("the answer is 42.0", "42", 30),
                                  sample("n/a", "")};
  auto em = opts("exact_match"), num = opts("numeric"), re = opts("regex"), len = opts("length_penalty");
  re.pattern = "####";
  len.target_tokens = 10;
  len.penalty_scale = 40;
  em.weight = 2;
  rl::RewardSet set({em, num, re, len}, registry::make_reward);
  auto s = set.score(b);
  CHECK(s.per_func[0][0] == 1);
  CHECK(s.per_func[0][1] == 0);
  CHECK(std::isnan(s.per_func[0][3]));  // no reference answer: unscorable
  CHECK(s.per_func[1][2] == 1);         // 42.0 == 42
  CHECK(s.per_func[2][0] == 1);
  CHECK(s.per_func[2][2] == 0);
  CHECK(s.per_func[3][2] == Approx(-0.5));
  CHECK(s.total[0] == Approx(2 + 1 + 1 + 0));
  CHECK(s.total[3] == Approx(0 + 0));  // regex and length still scored it
  CHECK(set.labels()[0] == "exact_match");
  // A worked reference is compared by its final answer, found as the completion's is.
  std::vector<rl::RewardSample> worked{sample("so 6 * 7 = 42\n#### 42", "6 * 7 = 42\n#### 42"),
                                       sample("</think>\nThe sum is\n\\boxed{12}", "3 + 9\nSo \\boxed{12}."),
                                       sample("line one\nline two", "line one\nline two"),
                                       sample("42", "6 * 7 = 42\n#### 41")};
  rl::RewardSet exact({opts("exact_match")}, registry::make_reward);
  CHECK(exact.score(worked).per_func[0] == std::vector<double>{1, 1, 1, 0});
}

TEST_CASE("a weight-0 reward is a monitor: logged, never the reward", "[rl][rewards]") {
  // numeric is trained on, exact match watched: sample 1's reference has no number for numeric.
  std::vector<rl::RewardSample> b{sample("#### 42", "42"), sample("#### x", "x")};
  auto num = opts("numeric"), em = opts("exact_match");
  em.weight = 0;
  rl::RewardSet set({num, em}, registry::make_reward);
  auto s = set.score(b);
  CHECK(s.total[0] == 1);
  CHECK(s.per_func[1][1] == 1);         // the monitor scored it
  CHECK(std::isnan(s.per_func[0][1]));  // the trained reward could not (no number)
  CHECK(std::isnan(s.total[1]));        // so it stays unscored, not a reward of 0
  // Every weight 0: nothing to leave out on the monitors' account (the sum is 0 as before).
  num.weight = 0;
  rl::RewardSet zeros({num, em}, registry::make_reward);
  CHECK(zeros.score(b).total[1] == 0);
}

TEST_CASE("pairwise agreement of a reward with a monitor, within groups", "[rl][rewards]") {
  const double nan = std::nan("");
  // Group 1: monitor 1 0 0 -> pairs (0,1) (0,2); reward orders (0,1) right, (0,2) as a tie.
  // Group 2: monitor 0 1 nan -> pair (3,4); reward orders it wrong. (3,5), (4,5): NaN, left out.
  const std::vector<double> reward{2.0, 1.0, 2.0, 5.0, 4.0, 9.0};
  const std::vector<double> monitor{1, 0, 0, 0, 1, nan};
  auto [agree, pairs] = rl::pairwise_agreement(reward, monitor, 3);
  CHECK(pairs == 3);
  CHECK(agree == Approx(1.5));
  // Pairs across groups never count; a monitor constant in every group gives no pairs.
  CHECK(rl::pairwise_agreement({1, 2, 3, 4}, {0, 0, 1, 1}, 2).second == 0);
  CHECK(rl::pairwise_agreement({1, 2, 3, 4}, {0, 0, 1, 1}, 4) == std::pair<double, double>{4, 4});
}

TEST_CASE("an external reward command scores JSONL and its failures are clear", "[rl][rewards][command]") {
  std::vector<rl::RewardSample> b{sample("#### 42", "42"), sample("#### 1", "42"), sample("x", "42")};
  auto cmd = opts("command");
  cmd.label = "judge";
  cmd.timeout_s = 2;
  // A well-behaved scorer: 1 when the completion contains the answer, null when it says "x".
  cmd.command = "python3 -u -c \"import sys, json\nfor l in sys.stdin:\n r = json.loads(l)\n "
                "print('null' if r['completion'] == 'x' else json.dumps({'reward': float(r['record']['answer'] in r['completion'])}))\"";
  {
    rl::RewardSet set({cmd}, registry::make_reward);
    for (int round = 0; round < 2; ++round) {  // the process is reused across batches
      auto s = set.score(b);
      CHECK(s.per_func[0][0] == 1);
      CHECK(s.per_func[0][1] == 0);
      CHECK(std::isnan(s.per_func[0][2]));
    }
  }
  struct Bad {
    std::string command, message;
  };
  for (const Bad& bad : {Bad{"head -n 1 > /dev/null; echo 1; exit 3", "exited with status 3 after 1 of 3 replies"},
                         Bad{"sleep 30", "no reply within timeout_s = 2 for sample 1 of 3"},
                         Bad{"while read l; do echo hello; done", "reply line 1: expected a number"}}) {
    INFO(bad.command);
    cmd.command = bad.command;
    cmd.on_error = algo::OnRewardError::Error;
    rl::RewardSet set({cmd}, registry::make_reward);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(set.score(b), Catch::Contains("reward 'judge'") && Catch::Contains(bad.message) &&
                                        Catch::Contains("on_error: skip"));
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
    cmd.on_error = algo::OnRewardError::Skip;
    rl::RewardSet lenient({cmd}, registry::make_reward);
    auto s = lenient.score(b);
    CHECK(std::isnan(s.total[0]));
    CHECK(lenient.skipped() == 1);
  }
}
