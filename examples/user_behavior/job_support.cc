// The data sets the jobs read, and where results go.
#include "job_support.h"

namespace user_behavior {

DataSet<UserBehavior> UserBehaviorData() {
  return {"UserBehavior", &ParseUserBehavior, &GenerateUserBehavior, 50000, kUserBehaviorMaxDelayMs};
}
DataSet<ApacheLogEvent> ApacheLogData() {
  return {"ApacheLog", &ParseApacheLogEvent, &GenerateApacheLogs, 10000, kApacheLogUsualDelayMs};
}
DataSet<AdClickEvent> AdClickData() {
  return {"AdClickLog", &ParseAdClickEvent, &GenerateAdClicks, 5000, kAdClickMaxDelayMs};
}
DataSet<MarketingUserBehavior> MarketingData() {
  return {"AppMarketing", &ParseMarketingUserBehavior, &GenerateMarketing, 2000, kMarketingMaxDelayMs};
}
DataSet<LoginEvent> LoginData() { return {"LoginLog", &ParseLoginEvent, &GenerateLogins, 5000, kLoginMaxDelayMs}; }
DataSet<OrderEvent> OrderData() { return {"OrderLog", &ParseOrderEvent, &GenerateOrders, 2000, kOrderMaxDelayMs}; }

void WriteResults(eddy::DataStream<std::string> stream, const eddy::ParameterTool& args, const std::string& name) {
  if (args.has("output")) {
    stream.sinkTo(eddy::FileSink::forRowFormat(args.get("output") + "/" + name)).name(name).uid(name + "-sink");
  } else {
    stream.map([name](const std::string& line) { return name + ": " + line; })
        .name("label " + name)
        .uid(name + "-label")
        .print()
        .name(name)
        .uid(name + "-print");
  }
}

}  // namespace user_behavior
