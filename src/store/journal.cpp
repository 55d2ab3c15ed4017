// The ledger journal: JSON lines appended with one write and one fsync per batch.
#include "store/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "store/sql.h"

namespace stratus::store {

namespace json = boost::json;
using detail::clean_text;

namespace {

core::Result<void> io_error(std::string what, const std::string& path) {
  return core::fail(core::ErrorKind::unavailable,
                    "journal " + what + " " + path + ": " + std::strerror(errno));
}

core::Result<void> write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write", path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::int64_t int_field(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  return 0;
}

std::string string_field(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

double double_field(const json::object& o, std::string_view name, double otherwise) {
  const auto* v = o.if_contains(name);
  if (!v) return otherwise;
  if (v->is_string()) return detail::double_from_text(v->get_string());
  if (v->is_double()) return v->get_double();
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  return otherwise;
}

}  // namespace

std::string encode_event(const LedgerEvent& e) {
  json::object o;
  o["time_ms"] = e.time_ms;
  o["request_id"] = clean_text(e.request_id);
  o["key_id"] = clean_text(e.key_id);
  o["team"] = clean_text(e.team);
  o["task_id"] = clean_text(e.task_id);
  o["alias"] = clean_text(e.alias);
  o["provider"] = clean_text(e.provider);
  o["deployment"] = clean_text(e.deployment);
  o["status"] = e.status;
  o["attempts"] = e.attempts;
  o["stream"] = e.stream;
  o["prompt_tokens"] = e.prompt_tokens;
  o["cached_tokens"] = e.cached_tokens;
  o["completion_tokens"] = e.completion_tokens;
  o["cost_usd"] = detail::to_text(detail::finite_or(e.cost_usd, 0));
  o["latency_ms"] = detail::to_text(detail::finite_or(e.latency_ms, 0));
  o["ttft_ms"] = detail::to_text(detail::finite_or(e.ttft_ms, -1));
  return json::serialize(o);
}

core::Result<LedgerEvent> decode_event(std::string_view line) {
  boost::system::error_code ec;
  auto v = json::parse(line, ec);
  if (ec || !v.is_object()) {
    return core::fail(core::ErrorKind::invalid_request, "journal: not a JSON object");
  }
  const auto& o = v.get_object();
  LedgerEvent e;
  e.time_ms = int_field(o, "time_ms");
  e.request_id = string_field(o, "request_id");
  e.key_id = string_field(o, "key_id");
  e.team = string_field(o, "team");
  e.task_id = string_field(o, "task_id");
  e.alias = string_field(o, "alias");
  e.provider = string_field(o, "provider");
  e.deployment = string_field(o, "deployment");
  e.status = static_cast<int>(int_field(o, "status"));
  e.attempts = static_cast<int>(int_field(o, "attempts"));
  const auto* stream = o.if_contains("stream");
  e.stream = stream && stream->is_bool() && stream->get_bool();
  e.prompt_tokens = int_field(o, "prompt_tokens");
  e.cached_tokens = int_field(o, "cached_tokens");
  e.completion_tokens = int_field(o, "completion_tokens");
  e.cost_usd = double_field(o, "cost_usd", 0);
  e.latency_ms = double_field(o, "latency_ms", 0);
  e.ttft_ms = double_field(o, "ttft_ms", -1);
  return e;
}

Journal::Journal(std::string path) : path_(std::move(path)) {}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

core::Result<void> Journal::open() {
  if (fd_ >= 0) return {};
  struct stat st {};
  bool existed = ::stat(path_.c_str(), &st) == 0;
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) return io_error("open", path_);
  if (!existed) {
    // The new directory entry must survive a crash too.
    int dir = ::open(parent_dir(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  }
  return {};
}

core::Result<void> Journal::append(std::span<const LedgerEvent> events) {
  if (events.empty()) return {};
  if (auto o = open(); !o) return o;
  std::string out;
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return io_error("stat", path_);
  if (st.st_size > 0) {
    char last = 0;
    if (::pread(fd_, &last, 1, st.st_size - 1) != 1) return io_error("read", path_);
    if (last != '\n') out += '\n';
  }
  for (const auto& e : events) {
    out += encode_event(e);
    out += '\n';
  }
  if (auto w = write_all(fd_, out, path_); !w) return w;
  if (::fdatasync(fd_) != 0) return io_error("fsync", path_);
  return {};
}

core::Result<void> Journal::replay(std::size_t batch, const Sink& sink, std::uint64_t& bad) {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return {};  // no journal: nothing to replay
  std::vector<LedgerEvent> events;
  events.reserve(batch);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto e = decode_event(line);
    if (!e) {
      ++bad;
      continue;
    }
    events.push_back(std::move(*e));
    if (events.size() >= batch) {
      if (auto r = sink(events); !r) return r;
      events.clear();
    }
  }
  if (in.bad()) return io_error("read", path_);
  if (!events.empty()) return sink(events);
  return {};
}

core::Result<std::uint64_t> Journal::count_lines() {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return 0;
  std::uint64_t lines = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) ++lines;
  }
  if (in.bad()) return std::unexpected(io_error("read", path_).error());
  return lines;
}

core::Result<void> Journal::truncate() {
  if (auto o = open(); !o) return o;
  if (::ftruncate(fd_, 0) != 0) return io_error("truncate", path_);
  if (::fdatasync(fd_) != 0) return io_error("fsync", path_);
  return {};
}

bool Journal::empty() {
  struct stat st {};
  return ::stat(path_.c_str(), &st) != 0 || st.st_size == 0;
}

}  // namespace stratus::store
