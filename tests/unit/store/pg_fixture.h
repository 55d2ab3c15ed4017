// A throwaway PostgreSQL server for tests: initdb in a temp dir, pg_ctl start on a loopback
// port, a `stratus_test` database; one server per test process (PgServer::shared()), stopped
// and deleted when the process ends, even if it crashes (a reaper shell waits on a pipe).
//
//   auto pg = stratus::test::PgServer::shared();
//   if (pg.missing) GTEST_SKIP() << pg.why;       // no PostgreSQL binaries on this machine
//   ASSERT_TRUE(pg.server) << pg.why;             // binaries but no server: a real failure
//   std::string url = pg.server->fresh_schema_url();  // an empty schema of its own
//
// Binaries: $STRATUS_PG_BIN if set, else the newest /usr/lib/postgresql/*/bin (Debian's
// `postgresql` package). As root, initdb and pg_ctl run as the `postgres` user (PostgreSQL
// refuses root) through runuser.
#pragma once

#include <glob.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>

namespace stratus::test {

class PgServer {
 public:
  struct Shared {
    PgServer* server = nullptr;
    bool missing = false;  // no binaries: skip, do not fail
    std::string why;       // when server is null
  };

  // The server of this test process, started on first use.
  static Shared shared() {
    static Shared s = [] {
      Shared out;
      static std::unique_ptr<PgServer> keep;
      std::string bin = find_bin();
      if (bin.empty()) {
        out.missing = true;
        out.why =
            "PostgreSQL binaries not found (set STRATUS_PG_BIN or install Debian's postgresql)";
        return out;
      }
      keep = start_new(bin, out.why);
      out.server = keep.get();
      return out;
    }();
    return s;
  }

  // A new server with its own directory and port; null with `why` on failure.
  static std::unique_ptr<PgServer> start_new(const std::string& bin, std::string& why) {
    auto s = std::unique_ptr<PgServer>(new PgServer(bin));
    if (!s->init(why)) return nullptr;
    return s;
  }

  ~PgServer() {
    if (reaper_) pclose(reaper_);  // the reaper stops the server and deletes the directory
  }
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string url(std::string_view db = "stratus_test") const {
    return "postgres://stratus@127.0.0.1:" + std::to_string(port_) + "/" + std::string(db);
  }
  // A new empty schema in stratus_test, first on the URL's search_path: a store opened on it
  // sees only its own tables.
  std::string fresh_schema_url() {
    std::string schema = "t" + std::to_string(::getpid()) + "_" + std::to_string(++schemas_);
    exec("CREATE SCHEMA " + schema, "stratus_test");
    return url() + "?options=-c%20search_path%3D" + schema;
  }
  // Runs SQL as the superuser; the error message or "".
  std::string exec(const std::string& sql, std::string_view db = "postgres") const {
    std::string conninfo = url(db) + "?connect_timeout=5";
    PGconn* c = PQconnectdb(conninfo.c_str());
    std::string err;
    if (PQstatus(c) != CONNECTION_OK) {
      err = PQerrorMessage(c);
    } else {
      PGresult* r = PQexec(c, sql.c_str());
      auto st = PQresultStatus(r);
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) err = PQresultErrorMessage(r);
      PQclear(r);
    }
    PQfinish(c);
    return err;
  }

  // Stops the server (fast shutdown: clients are disconnected) and starts it again on the
  // same port and data: for "the store went down" tests.
  bool stop() { return run(pg_ctl() + " -m fast -w stop"); }
  bool start() {
    return run(pg_ctl() + " -l " + dir_ + "/server.log -w -t 30 -o \"-k " + dir_ + " -p " +
               std::to_string(port_) + " -h 127.0.0.1 -F -c max_connections=60\" start");
  }
  std::string log() const {
    std::ifstream in(dir_ + "/server.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  explicit PgServer(std::string bin) : bin_(std::move(bin)) {}

  static std::string find_bin() {
    if (const char* env = std::getenv("STRATUS_PG_BIN"); env && *env) {
      return std::filesystem::exists(std::string(env) + "/pg_ctl") ? env : "";
    }
    glob_t g{};
    std::string best;
    double best_version = -1;
    if (::glob("/usr/lib/postgresql/*/bin/pg_ctl", 0, nullptr, &g) == 0) {
      for (std::size_t i = 0; i < g.gl_pathc; ++i) {
        std::filesystem::path p(g.gl_pathv[i]);
        double v = std::atof(p.parent_path().parent_path().filename().c_str());
        if (v > best_version && std::filesystem::exists(p.parent_path() / "initdb")) {
          best_version = v;
          best = p.parent_path().string();
        }
      }
    }
    globfree(&g);
    return best;
  }

  static int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
    ::close(fd);
    return port;
  }

  // `command` as the postgres user when we are root.
  std::string as_owner(const std::string& command) const {
    return ::geteuid() == 0 ? "runuser -u postgres -- " + command : command;
  }
  std::string pg_ctl() const { return as_owner(bin_ + "/pg_ctl") + " -D " + dir_ + "/data"; }
  bool run(const std::string& command) const {
    std::string c = command + " >>" + dir_ + "/commands.log 2>&1";
    return std::system(c.c_str()) == 0;
  }
  std::string commands_log() const {
    std::ifstream in(dir_ + "/commands.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  bool init(std::string& why) {
    char tmpl[] = "/tmp/stratus-pg-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      why = "mkdtemp failed";
      return false;
    }
    dir_ = tmpl;
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (!pw || ::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        std::filesystem::remove_all(dir_);
        why = "running as root needs a `postgres` user to own the server's directory";
        return false;
      }
    }
    // From here on the reaper owns the cleanup: it stops the server and deletes the directory
    // once this process closes the pipe, by pclose or by dying.
    std::string stop_cmd = pg_ctl() + " -m immediate -w stop >/dev/null 2>&1; rm -rf " + dir_;
    std::string reaper = "exec setsid -w sh -c 'read _; " + stop_cmd + "' >/dev/null 2>&1";
    reaper_ = ::popen(reaper.c_str(), "we");
    if (!reaper_) {
      std::filesystem::remove_all(dir_);
      why = "cannot start the reaper shell";
      return false;
    }
    if (!run(as_owner(bin_ + "/initdb") + " -D " + dir_ +
             "/data -A trust -U stratus -E UTF8 --no-locale -N")) {
      why = "initdb failed:\n" + commands_log();
      return false;
    }
    for (int attempt = 0; attempt < 3; ++attempt) {  // a port taken in between: try another
      port_ = free_port();
      if (start()) break;
      port_ = 0;
    }
    if (!port_) {
      why = "pg_ctl start failed:\n" + commands_log() + "\n" + log();
      return false;
    }
    if (auto err = exec("CREATE DATABASE stratus_test"); !err.empty()) {
      why = "CREATE DATABASE failed: " + err;
      return false;
    }
    return true;
  }

  std::string bin_;
  std::string dir_;
  int port_ = 0;
  std::atomic<int> schemas_{0};
  FILE* reaper_ = nullptr;
};

}  // namespace stratus::test
