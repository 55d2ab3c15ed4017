// serve, mock and check-config.
#include "cli/commands.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#ifdef STRATUS_MIMALLOC
#include <mimalloc.h>
#endif

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <vector>

#include "config/config.h"
#include "gateway/demo.h"
#include "gateway/gateway.h"
#include "gateway/handler.h"
#include "http/server.h"
#include "mock/dialect.h"
#include "mock/mock.h"

namespace stratus::cli {

namespace {

// Which malloc the process runs on (the release build links mimalloc, see CMakeLists.txt).
std::string allocator_name() {
#ifdef STRATUS_MIMALLOC
  int v = mi_version();  // e.g. 209 for 2.0.9
  return "mimalloc " + std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." +
         std::to_string(v % 10);
#else
  return "glibc malloc";
#endif
}

int g_exit = 0;

std::string problems_text(const std::string& file, const std::vector<config::Problem>& ps) {
  std::string out;
  for (auto& p : ps) out += config::format_problem(file, p) + "\n";
  return out;
}

sigset_t control_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

// Called before any thread starts, so every thread inherits the mask and a signal sent as soon
// as we print "listening" waits for wait_for_signals() instead of killing the process.
void block_control_signals() {
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t set = control_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// Blocks until SIGTERM or SIGINT; calls on_hup for each SIGHUP meanwhile.
int wait_for_signals(const std::function<void()>& on_hup) {
  sigset_t set = control_signals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      on_hup();
      continue;
    }
    return sig;
  }
}

struct ServeArgs {
  std::string config;
  std::string listen;
  int workers = -1;
};

void run_serve(const ServeArgs& args) {
  block_control_signals();
  std::vector<std::unique_ptr<mock::MockServer>> clouds;
  gateway::ConfigLoader loader;
  if (args.config.empty()) {
    for (const char* name : {"cloud-a", "cloud-b"}) {
      mock::MockOptions o;
      o.name = name;
      o.tokens_per_sec = 50;  // visibly streamed
      clouds.push_back(std::make_unique<mock::MockServer>(o));
      clouds.back()->start();
    }
    auto yaml = gateway::demo_config_yaml(args.listen.empty() ? "127.0.0.1:8080" : args.listen,
                                          clouds[0]->port(), clouds[1]->port());
    loader = [yaml]() -> std::expected<config::Config, std::string> {
      auto c = config::parse(yaml);
      if (!c) return std::unexpected(problems_text("<demo>", c.error()));
      return *c;
    };
    spdlog::warn(
        "no --config given: serving the built-in demo (alias 'demo', two simulated clouds "
        "on ports {} and {})",
        clouds[0]->port(), clouds[1]->port());
  } else {
    loader = [file = args.config,
              listen = args.listen]() -> std::expected<config::Config, std::string> {
      auto c = config::load_file(file);
      if (!c) return std::unexpected(problems_text(file, c.error()));
      return *c;
    };
  }
  auto cfg = loader();
  if (!cfg) {
    std::cerr << cfg.error() << "stratus: refusing to start with an invalid config\n";
    g_exit = 2;
    return;
  }
  if (!args.listen.empty()) {
    auto colon = args.listen.rfind(':');
    if (colon == std::string::npos) {
      std::cerr << "stratus: --listen must be host:port\n";
      g_exit = 2;
      return;
    }
    cfg->server.host = args.listen.substr(0, colon);
    if (cfg->server.host.size() > 2 && cfg->server.host.front() == '[') {
      cfg->server.host = cfg->server.host.substr(1, cfg->server.host.size() - 2);
    }
    cfg->server.port = static_cast<std::uint16_t>(std::stoi(args.listen.substr(colon + 1)));
  }
  if (args.workers >= 0) cfg->server.workers = args.workers;
  auto server_cfg = cfg->server;

  gateway::Gateway gw(std::move(*cfg), loader);
  http::ServerOptions so;
  so.host = server_cfg.host;
  so.port = server_cfg.port;
  so.workers = server_cfg.workers;
  so.max_body_bytes = server_cfg.max_body_bytes;
  so.max_header_bytes = server_cfg.max_header_bytes;
  so.header_timeout_ms = server_cfg.header_timeout_ms;
  so.idle_timeout_ms = server_cfg.idle_timeout_ms;
  so.max_connections = server_cfg.max_connections;
  http::Server server(so, gateway::make_handler_factory(gw));
  try {
    server.bind();
  } catch (const std::exception& e) {
    std::cerr << "stratus: cannot listen on " << so.host << ":" << so.port << ": " << e.what()
              << "\n";
    g_exit = 1;
    return;
  }
  server.start();
  spdlog::info("stratus listening on http://{}:{} ({} workers, {})", so.host, server.port(),
               server.workers(), allocator_name());
  std::cerr.flush();

  int sig = wait_for_signals([&] {
    auto r = gw.reload();
    if (r) {
      spdlog::info("config reloaded");
    } else {
      spdlog::error("config not reloaded:\n{}", r.error());
    }
  });
  spdlog::info("signal {}: draining (up to {} ms)", sig, server_cfg.drain_timeout_ms);
  bool clean = server.drain(server_cfg.drain_timeout_ms);
  for (auto& c : clouds) c->drain(1000);
  gw.access_log().flush();
  spdlog::info(clean ? "drained, bye" : "drain timeout: open connections were cut");
  g_exit = 0;
}

}  // namespace

void add_serve(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "Run the gateway (the built-in demo when no --config)");
  cmd->add_option("-c,--config", args->config, "YAML config file")->check(CLI::ExistingFile);
  cmd->add_option("-l,--listen", args->listen, "host:port to listen on (overrides the config)");
  cmd->add_option("-w,--workers", args->workers, "worker threads (0: one per core)");
  cmd->callback([args] { run_serve(*args); });
}

void add_mock(CLI::App& app) {
  auto o = std::make_shared<mock::MockOptions>();
  auto* cmd =
      app.add_subcommand("mock", "Run a simulated provider (for demos, tests and benchmarks)");
  cmd->add_option("--host", o->host, "address to listen on")->capture_default_str();
  cmd->add_option("-p,--port", o->port, "port (0: any free port)")->capture_default_str();
  cmd->add_option("--workers", o->workers, "worker threads")->capture_default_str();
  std::vector<std::string> dialects;
  for (auto n : mock::dialect_names()) dialects.emplace_back(n);
  cmd->add_option("--dialect", o->dialect, "wire format to speak")
      ->check(CLI::IsMember(dialects))
      ->capture_default_str();
  cmd->add_option("--name", o->name, "name shown in answers")->capture_default_str();
  cmd->add_option("--ttft-ms", o->ttft_ms, "delay before the first streamed token")
      ->capture_default_str();
  cmd->add_option("--first-byte-ms", o->first_byte_ms,
                  "delay before any answer to a chat request, stream or not")
      ->capture_default_str();
  cmd->add_option("--tokens-per-sec", o->tokens_per_sec, "stream pace (0: all at once)")
      ->capture_default_str();
  cmd->add_option("--tokens", o->tokens, "completion length")->capture_default_str();
  cmd->add_option("--fail-status", o->fail_status, "answer with this HTTP status (0: off)")
      ->capture_default_str();
  cmd->add_option("--fail-rate", o->fail_rate, "fraction of requests that fail")
      ->capture_default_str();
  cmd->add_option("--retry-after", o->retry_after_s, "Retry-After seconds sent with failures")
      ->capture_default_str();
  cmd->add_flag("--hang", o->hang, "accept requests and never answer");
  cmd->add_option("--close-after-chunks", o->close_after_chunks,
                  "cut streams after N chunks (0 also drops non-stream answers)")
      ->capture_default_str();
  cmd->add_option("--flap-ms", o->flap_ms,
                  "alternate N ms up / N ms down (down: drop every request unanswered)")
      ->capture_default_str();
  cmd->add_option("--hang-after-chunks", o->hang_after_chunks, "stall streams after N chunks")
      ->capture_default_str();
  cmd->add_option("--error-after-chunks", o->error_after_chunks,
                  "end streams with an error event after N chunks")
      ->capture_default_str();
  cmd->add_option("--tool-calls", o->tool_calls, "tool calls per answer when tools are offered")
      ->capture_default_str();
  cmd->callback([o] {
    block_control_signals();
    mock::MockServer server(*o);
    try {
      server.start();
    } catch (const std::exception& e) {
      std::cerr << "stratus mock: cannot listen on " << o->host << ":" << o->port << ": "
                << e.what() << "\n";
      g_exit = 1;
      return;
    }
    spdlog::info("stratus mock listening on http://{}:{}", o->host, server.port());
    wait_for_signals([] {});
    server.drain(5000);
    g_exit = 0;
  });
}

void add_check_config(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("check-config", "Validate a config file and print every problem");
  cmd->add_option("file", *file, "YAML config file")->required();
  cmd->callback([file] {
    auto c = config::load_file(*file);
    if (!c) {
      std::cerr << problems_text(*file, c.error());
      std::cerr << c.error().size() << " problem(s) in " << *file << "\n";
      g_exit = 1;
      return;
    }
    std::cout << *file << ": OK (" << c->providers.size() << " providers, " << c->models.size()
              << " models)\n";
    g_exit = 0;
  });
}

int exit_code() { return g_exit; }

void set_exit_code(int code) { g_exit = code; }

}  // namespace stratus::cli
