// The fixture every store test runs under twice: once on a fresh SQLite file, once on a fresh
// schema of the shared PostgreSQL test server.
#pragma once

#include <gtest/gtest.h>

#include "unit/store/pg_fixture.h"
#include "unit/store/store_test_util.h"

namespace stratus::store::test {

enum class Backend { sqlite, postgres };

class BackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::postgres) {
      auto pg = stratus::test::PgServer::shared();
      if (pg.missing) GTEST_SKIP() << pg.why;
      ASSERT_TRUE(pg.server) << pg.why;
      pg_ = pg.server;
      url_ = pg_->fresh_schema_url();
    } else {
      ASSERT_FALSE(dir_.path().empty());
      url_ = "sqlite://" + dir_.file("ledger.db");
    }
  }

  // A new connection, migrated.
  std::unique_ptr<Store> open() {
    auto s = open_store(url_);
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    if (!s) return nullptr;
    auto m = (*s)->migrate();
    EXPECT_TRUE(m) << (m ? "" : m.error().message);
    return std::move(*s);
  }

  std::int64_t count() {
    auto s = open();
    if (!s) return -1;
    auto n = s->count_events();
    EXPECT_TRUE(n) << (n ? "" : n.error().message);
    return n ? *n : -1;
  }

  TempDir dir_;  // the SQLite file, and the journal for both backends
  std::string url_;
  stratus::test::PgServer* pg_ = nullptr;
};

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::sqlite ? "Sqlite" : "Postgres";
}

}  // namespace stratus::store::test

#define STRATUS_STORE_BACKENDS(Suite)                                                    \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite,                                              \
                           ::testing::Values(::stratus::store::test::Backend::sqlite,    \
                                             ::stratus::store::test::Backend::postgres), \
                           ::stratus::store::test::backend_name)
