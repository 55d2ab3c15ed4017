// Loading libpq with dlopen (see libpq.h).
#include "store/libpq.h"

#include <dlfcn.h>

#include <string>

namespace stratus::store::detail {

namespace {

LibPq loaded;

core::Result<const LibPq*> load() {
  void* handle = ::dlopen(kLibPqName, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    return core::fail(core::ErrorKind::unavailable,
                      std::string("postgres: cannot load the PostgreSQL client library ") +
                          kLibPqName + " (" + (why ? why : "not found") +
                          "); install it (Debian: apt install libpq5)");
  }
  // Never closed: the library stays mapped for the life of the process.
#define STRATUS_LIBPQ_RESOLVE(name)                                                   \
  loaded.name = reinterpret_cast<decltype(loaded.name)>(::dlsym(handle, "PQ" #name)); \
  if (!loaded.name) {                                                                 \
    return core::fail(core::ErrorKind::unavailable,                                   \
                      std::string("postgres: ") + kLibPqName + " has no PQ" #name);   \
  }
  STRATUS_LIBPQ_FUNCTIONS(STRATUS_LIBPQ_RESOLVE)
#undef STRATUS_LIBPQ_RESOLVE
  return &loaded;
}

}  // namespace

core::Result<const LibPq*> load_libpq() {
  static const core::Result<const LibPq*> result = load();
  return result;
}

const LibPq& pq() { return loaded; }

}  // namespace stratus::store::detail
