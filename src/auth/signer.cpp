// Applies static credentials; SigV4 lives in sigv4.cpp.
#include "auth/signer.h"

namespace stratus::auth {

void sign(core::UpstreamRequest& req, const Credentials& creds,
          std::chrono::system_clock::time_point now) {
  (void)now;
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
    case Credentials::Kind::sigv4:
      return;  // TODO(sigv4): wired when auth/sigv4 lands
  }
}

}  // namespace stratus::auth
