// The two Store backends; open_store picks one from the URL.
#pragma once

#include <memory>
#include <string>

#include "store/store.h"

namespace stratus::store::detail {

// `path`: a file path (created if missing) or ":memory:".
core::Result<std::unique_ptr<Store>> open_sqlite(const std::string& path);
// `conninfo`: a libpq URI or keyword string.
core::Result<std::unique_ptr<Store>> open_postgres(const std::string& conninfo);

}  // namespace stratus::store::detail
