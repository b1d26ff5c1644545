// The control endpoint in this process, with its limits shortened: slow clients are cut
// off at the request deadline while commands keep being answered.
#include "service/control.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "testing.h"

namespace derived {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::LoopbackClient;
using testing::TempDir;

// What .derived/service.json announces.
ServiceInfo Announced(const std::string& dir) {
  std::ifstream in(ServiceFile(dir));
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str());
  return ServiceInfo{j["pid"].get<int>(), j["port"].get<int>(), j["token"].get<std::string>()};
}

TEST(ControlServer, SlowClientsAreCutOffAtTheRequestDeadlineWhileCommandsAreAnswered) {
  TempDir dir;
  HttpLimits limits = ControlServer::ControlLimits();
  limits.request_seconds = 0.3;
  limits.threads = 2;
  auto server = ControlServer::Start(dir.str(), [](const std::vector<std::string>& args) {
    return CommandResult{0, "ran " + args.at(0) + "\n", ""};
  }, limits);
  ASSERT_TRUE(server.ok()) << server.error().message;
  ServiceInfo info = Announced(dir.str());
  ASSERT_EQ(info.port, (*server)->port());

  // Three times as many slow clients as workers, each dribbling a request without the
  // token, for as long as the command below takes.
  std::vector<std::unique_ptr<LoopbackClient>> slow;
  for (int i = 0; i < 6; ++i) slow.push_back(std::make_unique<LoopbackClient>(info.port));
  const std::string request = "POST /v1/command HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
  auto started = std::chrono::steady_clock::now();
  auto answer = std::async(std::launch::async, [&] { return SendCommand(info, {"status"}); });
  for (size_t i = 0; answer.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready; ++i) {
    for (auto& s : slow) (void)s->Send(request[std::min(i, request.size() - 1)]);
    ASSERT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10)) << "the command got no answer";
  }
  auto r = answer.get();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->out, "ran status\n");
  // Each slow client held a worker for at most the deadline: the command waited at most
  // for the three rounds of them ahead of it in the queue, not for ever.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  for (auto& s : slow) {
    bool closed = false;
    for (int i = 0; i < 40 && !closed; ++i) {
      closed = s->Closed();
      if (!closed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(closed) << "a slow client was never cut off";
  }
}

TEST(ControlServer, RequestsAreBoundedInSizeAndNeedTheToken) {
  TempDir dir;
  auto server = ControlServer::Start(dir.str(), [](const std::vector<std::string>&) { return CommandResult{}; });
  ASSERT_TRUE(server.ok()) << server.error().message;
  ServiceInfo info = Announced(dir.str());
  ServiceInfo wrong = info;
  for (const std::string& token : {std::string(""), info.token.substr(1), info.token + "0", std::string(8000, 'a')}) {
    wrong.token = token;
    auto refused = SendCommand(wrong, {"status"});
    ASSERT_FALSE(refused.ok());
    EXPECT_THAT(refused.error().message, HasSubstr("missing or wrong token"));
  }
  // A header line longer than httplib takes (8 KiB) is a bad request.
  wrong.token = std::string(10000, 'a');
  auto refused = SendCommand(wrong, {"status"});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("refused the command"));
  // A query file's text larger than the endpoint accepts is refused before it is sent.
  auto big = SendCommand(info, {"query", std::string((size_t{64} << 20) + 1, 'x')});
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(big.error().message, HasSubstr("larger than the Derived service accepts"));
  // The announcement is readable by its owner only.
  EXPECT_EQ(fs::status(ServiceFile(dir.str())).permissions(), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(dir.path() / ".derived").permissions() & (fs::perms::group_all | fs::perms::others_all),
            fs::perms::none);
}

}  // namespace
}  // namespace derived

namespace derived {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseCommandRequest, TakesTheArguments) {
  auto args = ParseCommandRequest(R"({"args": ["log", "core.signups", "--limit", "5"]})");
  ASSERT_TRUE(args.ok()) << args.error().message;
  EXPECT_THAT(*args, ElementsAre("log", "core.signups", "--limit", "5"));
}

TEST(ParseCommandRequest, RefusesAnythingButAnObjectWithAListOfStrings) {
  for (const char* body : {"", "[]", "{}", "not json", R"({"args": "status"})", R"({"arg": ["status"]})"}) {
    auto args = ParseCommandRequest(body);
    ASSERT_FALSE(args.ok()) << body;
    EXPECT_THAT(args.error().message, HasSubstr("{\"args\": [\"command\", ...]}")) << body;
  }
  auto args = ParseCommandRequest(R"({"args": ["status", 1]})");
  ASSERT_FALSE(args.ok());
  EXPECT_THAT(args.error().message, HasSubstr("every element of 'args' must be a string"));
}

TEST(ParseCommandRequest, RefusesTextThatIsNotUtf8) {
  EXPECT_FALSE(ParseCommandRequest("{\"args\": [\"\xff\"]}").ok());
}

}  // namespace
}  // namespace derived
