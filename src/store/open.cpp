// open_store: the URL scheme picks the backend.
#include "store/backends.h"
#include "store/sql.h"

namespace stratus::store {

core::Result<std::unique_ptr<Store>> open_store(const std::string& url) {
  constexpr std::string_view kSqlite = "sqlite://";
  if (url.starts_with(kSqlite)) {
    std::string path = url.substr(kSqlite.size());
    if (path.empty()) {
      return core::fail(core::ErrorKind::invalid_request,
                        "store url '" + url + "': no path (sqlite://stratus.db)");
    }
    return detail::open_sqlite(path);
  }
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
    return detail::open_postgres(url);
  }
  // The URL is not echoed: a mistyped scheme may still carry a password.
  return core::fail(core::ErrorKind::invalid_request,
                    "store url: expected sqlite://PATH, postgres://... or postgresql://...");
}

std::string_view group_by_name(GroupBy by) {
  switch (by) {
    case GroupBy::key:
      return "key";
    case GroupBy::team:
      return "team";
    case GroupBy::model:
      return "model";
    case GroupBy::provider:
      return "provider";
    case GroupBy::day:
      return "day";
    case GroupBy::task:
      return "task";
  }
  return "key";
}

core::Result<GroupBy> parse_group_by(std::string_view name) {
  for (auto by : {GroupBy::key, GroupBy::team, GroupBy::model, GroupBy::provider, GroupBy::day,
                  GroupBy::task}) {
    if (group_by_name(by) == name) return by;
  }
  return core::fail(core::ErrorKind::invalid_request,
                    "group_by must be key, team, model, provider, day or task", "group_by");
}

}  // namespace stratus::store
