// Applies static credentials; SigV4 lives in sigv4.cpp.
#include "auth/signer.h"

#include "auth/sigv4.h"

namespace stratus::auth {

void sign(core::UpstreamRequest& req, const Credentials& creds,
          std::chrono::system_clock::time_point now) {
  switch (creds.kind) {
    case Credentials::Kind::none:
      return;
    case Credentials::Kind::bearer:
      if (!creds.secret.empty())
        req.headers.emplace_back("authorization", "Bearer " + creds.secret);
      return;
    case Credentials::Kind::header:
      if (!creds.secret.empty()) req.headers.emplace_back(creds.header_name, creds.secret);
      return;
    case Credentials::Kind::sigv4: {
      // A URL that cannot be parsed is left unsigned: the HTTP client rejects it.
      const SigV4Context ctx{.credentials = creds.aws,
                             .region = creds.region,
                             .service = creds.service,
                             .now = now,
                             .options = default_sigv4_options(creds.service)};
      (void)sign_sigv4_request(req, ctx);
      return;
    }
  }
}

}  // namespace stratus::auth
