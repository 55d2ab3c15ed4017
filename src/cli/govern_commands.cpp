// stratus keys create|list|revoke and stratus usage: the store the config names, read and
// written directly (a running gateway sees key changes within a second).
#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/govern.h"
#include "cli/table.h"
#include "governance/keys.h"

namespace stratus::cli {

namespace {

constexpr int kUsageError = 2;
constexpr int kFailure = 1;
constexpr int kKeyAttempts = 16;  // fresh ids tried before giving up on a clash

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void fail(std::string_view command, std::string_view message, int code) {
  std::cerr << "stratus " << command << ": " << message << "\n";
  set_exit_code(code);
}

void warn(std::string_view message) { std::cerr << "stratus: warning: " << message << "\n"; }

struct Session {
  std::unique_ptr<store::Store> store;
  config::Config config;
};

// Loads the config and opens and migrates its store; on failure says why and sets the exit code.
std::optional<Session> open_session(std::string_view command, const std::string& file) {
  auto cfg = load_cli_config(file);
  if (!cfg) {
    std::cerr << cfg.error();
    fail(command, "invalid config " + file, kUsageError);
    return std::nullopt;
  }
  if (!cfg->unset.empty()) {
    std::string names;
    for (const auto& n : cfg->unset) names += (names.empty() ? "" : ", ") + n;
    warn("environment variable(s) " + names + " not set; ignored (not needed here)");
  }
  const auto url = store_url(cfg->config);
  if (url.starts_with("sqlite://")) {
    std::error_code ec;
    const std::filesystem::path path = url.substr(9);
    if (!std::filesystem::exists(path, ec)) {
      std::cerr << "stratus: note: creating a new store " << path.string() << " (relative paths "
                << "are from the current directory, as for the gateway)\n";
    }
  }
  auto st = store::open_store(url);
  if (!st) {
    fail(command, "cannot open the store " + redact_url(url) + ": " + st.error().message, kFailure);
    return std::nullopt;
  }
  if (auto m = (*st)->migrate(); !m) {
    fail(command, "cannot migrate the store " + redact_url(url) + ": " + m.error().message,
         kFailure);
    return std::nullopt;
  }
  return Session{std::move(*st), std::move(cfg->config)};
}

struct CreateArgs {
  std::string config;
  KeyFlags flags;
  std::string team, models, rpm, tpm, budget_usd, budget_period, max_task_calls, max_task_usd,
      expires;
  bool json = false;
};

// A fresh key whose id no existing key uses as id or name.
std::optional<governance::NewKey> fresh_key(std::span<const store::KeyRecord> existing) {
  for (int i = 0; i < kKeyAttempts; ++i) {
    auto k = governance::generate_key();
    if (!k) return std::nullopt;
    const bool clash = std::ranges::any_of(
        existing, [&](const store::KeyRecord& r) { return r.id == k->id || r.name == k->id; });
    if (!clash) return k;
  }
  return std::nullopt;
}

void run_create(const CreateArgs& a) {
  constexpr std::string_view cmd = "keys create";
  auto s = open_session(cmd, a.config);
  if (!s) return;
  auto existing = s->store->keys();
  if (!existing) return fail(cmd, "cannot read keys: " + existing.error().message, kFailure);
  const auto now = now_ms();
  auto plan = plan_key(a.flags, s->config, *existing, now);
  if (!plan) return fail(cmd, plan.error(), kUsageError);
  for (const auto& w : plan->warnings) warn(w);
  auto key = fresh_key(*existing);
  if (!key) return fail(cmd, "could not generate a key (random generator failed)", kFailure);
  auto& rec = plan->record;
  rec.id = key->id;
  rec.salt = key->salt;
  rec.hash = key->hash;
  if (auto w = s->store->put_key(rec); !w) {
    return fail(cmd, "cannot store the key: " + w.error().message, kFailure);
  }
  if (a.json) {
    std::cout << created_key_json(key->key, rec, now) << std::endl;
  } else {
    std::cout << key->key << std::endl;
    std::cerr << "created key " << rec.id << " (shown once above: store it now; only its hash is "
              << "kept)\n"
              << key_summary(rec);
  }
  set_exit_code(0);
}

void run_list(const std::string& config, bool as_json) {
  constexpr std::string_view cmd = "keys list";
  auto s = open_session(cmd, config);
  if (!s) return;
  auto keys = s->store->keys();
  if (!keys) return fail(cmd, "cannot read keys: " + keys.error().message, kFailure);
  const auto now = now_ms();
  if (as_json) {
    std::cout << keys_json(*keys, now) << std::endl;
  } else if (keys->empty()) {
    std::cout << "no keys yet (stratus keys create --config " << config << " --name NAME)\n";
  } else {
    std::cout << keys_table(*keys, now);
  }
  set_exit_code(0);
}

void run_revoke(const std::string& config, const std::string& target) {
  constexpr std::string_view cmd = "keys revoke";
  auto s = open_session(cmd, config);
  if (!s) return;
  auto keys = s->store->keys();
  if (!keys) return fail(cmd, "cannot read keys: " + keys.error().message, kFailure);
  // The store revokes the key with this id, else every active key with this name.
  std::vector<const store::KeyRecord*> hit;
  for (const auto& k : *keys) {
    if (k.id == target) hit = {&k};
  }
  if (hit.empty()) {
    for (const auto& k : *keys) {
      if (k.name == target && k.revoked_ms == 0) hit.push_back(&k);
    }
  }
  if (hit.empty()) {
    const bool was_revoked =
        std::ranges::any_of(*keys, [&](const store::KeyRecord& k) { return k.name == target; });
    if (was_revoked) {
      std::cout << "no active key named '" << printable(target) << "': already revoked\n";
      return set_exit_code(0);
    }
    return fail(cmd, "no key with id or name '" + printable(target) + "'", kFailure);
  }
  if (hit.size() == 1 && hit[0]->revoked_ms != 0) {
    std::cout << "key " << hit[0]->id << " (" << printable(hit[0]->name)
              << ") was already revoked at " << format_utc_minute(hit[0]->revoked_ms) << " UTC\n";
    return set_exit_code(0);
  }
  auto done = s->store->revoke_key(target, now_ms());
  if (!done) return fail(cmd, "cannot revoke: " + done.error().message, kFailure);
  if (!*done) return fail(cmd, "no key with id or name '" + printable(target) + "'", kFailure);
  for (const auto* k : hit) {
    std::cout << "revoked " << k->id << " (" << printable(k->name) << ")\n";
  }
  std::cerr << "a running gateway refuses it within a second\n";
  set_exit_code(0);
}

struct UsageArgs {
  std::string config;
  std::string by = "key";
  std::string since = "7d";
  std::string top;
  bool tasks = false;
  bool json = false;
};

void run_usage(const UsageArgs& a, bool by_given, bool top_given) {
  constexpr std::string_view cmd = "usage";
  UsageReport r;
  auto by = store::parse_group_by(a.by);
  if (!by) return fail(cmd, "--by must be key, team, model, provider, day or task", kUsageError);
  r.by = *by;
  if (a.tasks) {
    if (by_given && r.by != store::GroupBy::task) {
      return fail(cmd, "--tasks is --by task; it cannot be combined with --by " + a.by,
                  kUsageError);
    }
    r.by = store::GroupBy::task;
  }
  const auto now = now_ms();
  auto since = parse_since_ms(a.since, now);
  if (!since) return fail(cmd, "--since: " + since.error(), kUsageError);
  r.since_ms = *since;
  if (top_given) {
    auto top = parse_positive_int(a.top);
    if (!top) return fail(cmd, "--top needs a positive whole number: " + top.error(), kUsageError);
    r.top = static_cast<std::size_t>(*top);
  }
  auto s = open_session(cmd, a.config);
  if (!s) return;
  auto rows = s->store->usage(r.by, r.since_ms, 0);
  if (!rows) return fail(cmd, "cannot read the ledger: " + rows.error().message, kFailure);
  if (r.by == store::GroupBy::key) {
    auto keys = s->store->keys();
    if (!keys) return fail(cmd, "cannot read keys: " + keys.error().message, kFailure);
    for (const auto& k : *keys) r.key_names[k.id] = k.name;
    r.key_names.emplace("master", "(master key)");  // the gateway's key id for its master key
  }
  if (a.json) {
    std::cout << usage_json(r, *rows) << std::endl;
  } else {
    std::cout << "usage by " << store::group_by_name(r.by) << " since "
              << (r.since_ms == 0 ? std::string("the beginning")
                                  : format_utc_minute(r.since_ms) + " UTC")
              << "\n"
              << usage_table(r, *rows);
  }
  set_exit_code(0);
}

CLI::Option* add_config_option(CLI::App* cmd, std::string& into) {
  return cmd->add_option("-c,--config", into, "YAML config file (its store.url is used)")
      ->required()
      ->check(CLI::ExistingFile);
}

}  // namespace

void add_keys(CLI::App& app) {
  auto* keys = app.add_subcommand("keys", "Manage virtual keys (create, list, revoke)");
  keys->require_subcommand(1);

  auto a = std::make_shared<CreateArgs>();
  auto* create = keys->add_subcommand("create", "Create a key and print it (once)");
  add_config_option(create, a->config);
  create->add_option("--name", a->flags.name, "unique name among keys not revoked")
      ->type_name("NAME")
      ->required();
  create->add_option("--team", a->team, "team (limits and budget from the config's teams:)")
      ->type_name("TEAM");
  create
      ->add_option("--models", a->models, "allowed model aliases, a,b ('x*': prefix; default all)")
      ->type_name("A,B");
  create->add_option("--rpm", a->rpm, "requests per minute")->type_name("N");
  create->add_option("--tpm", a->tpm, "tokens per minute")->type_name("N");
  create->add_option("--budget-usd", a->budget_usd, "spending limit per period in US$")
      ->type_name("USD");
  create->add_option("--budget-period", a->budget_period, "day or month (default month)")
      ->type_name("day|month");
  create->add_option("--max-task-calls", a->max_task_calls, "ceiling on calls per agent task")
      ->type_name("N");
  create->add_option("--max-task-usd", a->max_task_usd, "ceiling on US$ per agent task")
      ->type_name("USD");
  create->add_option("--expires", a->expires, "lifetime: 90m, 12h, 30d, 2w (default never)")
      ->type_name("DURATION");
  create->add_flag("--json", a->json, "print one JSON object (the key in \"key\")");
  create->callback([a, create] {
    const auto given = [&](const char* flag, const std::string& value) {
      return create->count(flag) > 0 ? std::optional<std::string>(value) : std::nullopt;
    };
    auto& f = a->flags;
    f.team = given("--team", a->team);
    f.models = given("--models", a->models);
    f.rpm = given("--rpm", a->rpm);
    f.tpm = given("--tpm", a->tpm);
    f.budget_usd = given("--budget-usd", a->budget_usd);
    f.budget_period = given("--budget-period", a->budget_period);
    f.max_task_calls = given("--max-task-calls", a->max_task_calls);
    f.max_task_usd = given("--max-task-usd", a->max_task_usd);
    f.expires = given("--expires", a->expires);
    run_create(*a);
  });

  auto list_config = std::make_shared<std::string>();
  auto list_json = std::make_shared<bool>(false);
  auto* list = keys->add_subcommand("list", "List keys (never their secrets)");
  add_config_option(list, *list_config);
  list->add_flag("--json", *list_json, "print JSON: {\"keys\": [...]}");
  list->callback([list_config, list_json] { run_list(*list_config, *list_json); });

  auto revoke_config = std::make_shared<std::string>();
  auto target = std::make_shared<std::string>();
  auto* revoke =
      keys->add_subcommand("revoke", "Revoke a key by id, or every active key of a name");
  add_config_option(revoke, *revoke_config);
  revoke->add_option("key", *target, "key id or name")->type_name("ID|NAME")->required();
  revoke->callback([revoke_config, target] { run_revoke(*revoke_config, *target); });
}

void add_usage(CLI::App& app) {
  auto a = std::make_shared<UsageArgs>();
  auto* usage = app.add_subcommand("usage", "Requests, tokens and cost from the ledger");
  add_config_option(usage, a->config);
  usage->add_option("--by", a->by, "key, team, model, provider, day or task")
      ->type_name("GROUP")
      ->capture_default_str();
  usage->add_option("--since", a->since, "window: 30m, 24h, 7d, ... or all")
      ->type_name("DURATION|all")
      ->capture_default_str();
  usage->add_option("--top", a->top, "show the first N groups (days: the latest N)")
      ->type_name("N");
  usage->add_flag("--tasks", a->tasks, "agent tasks (same as --by task)");
  usage->add_flag("--json", a->json, "print JSON like GET /admin/usage");
  usage->callback(
      [a, usage] { run_usage(*a, usage->count("--by") > 0, usage->count("--top") > 0); });
}

}  // namespace stratus::cli
