// libpq, loaded the first time a PostgreSQL store is opened rather than linked.
//
// Linked, libpq maps itself and what it links (GnuTLS through OpenLDAP, Kerberos, p11-kit,
// Nettle, GMP...) into every stratus process and runs their initialisers at start: 3.3 MiB
// resident for a gateway or a mock that never talks to PostgreSQL (measured with
// /proc/PID/smaps; docs/performance.md). The function types come from libpq's own header, so a
// signature mismatch does not compile.
#pragma once

#include <libpq-fe.h>

#include "core/error.h"

namespace stratus::store::detail {

// The functions the PostgreSQL store uses, without their "PQ" prefix.
// clang-format off
#define STRATUS_LIBPQ_FUNCTIONS(X) \
  X(connectdbParams) \
  X(status) \
  X(errorMessage) \
  X(setNoticeProcessor) \
  X(finish) \
  X(exec) \
  X(execParams) \
  X(prepare) \
  X(execPrepared) \
  X(resultStatus) \
  X(resultErrorMessage) \
  X(ntuples) \
  X(getvalue) \
  X(getlength) \
  X(getisnull) \
  X(cmdTuples) \
  X(clear)
// clang-format on

struct LibPq {
#define STRATUS_LIBPQ_MEMBER(name) decltype(&::PQ##name) name = nullptr;
  STRATUS_LIBPQ_FUNCTIONS(STRATUS_LIBPQ_MEMBER)
#undef STRATUS_LIBPQ_MEMBER
};

// The library's name at run time: its soname, stable since PostgreSQL 8.2 (Debian: libpq5).
inline constexpr const char* kLibPqName = "libpq.so.5";

// Loads libpq once (thread-safe) and returns its functions, or why it could not be loaded
// (not installed, or a symbol missing); later calls return the same answer.
core::Result<const LibPq*> load_libpq();

// The loaded functions; only after load_libpq() succeeded.
const LibPq& pq();

}  // namespace stratus::store::detail
