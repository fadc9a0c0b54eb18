// Transport credentials and the shared token of remote execution
// (docs/remote.md, "Security model").
#pragma once

#include "fedrt/Remote.h"

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"

#include <memory>
#include <string>
#include <string_view>

namespace fedrt::net {

// TLS with the coordinator's certificate and key (and with a CA, client
// certificates required and verified); plaintext only when insecure.
// InvalidArgument naming an unreadable file or a missing choice.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
serverCredentials(const SecurityOptions &o);
// TLS verifying the coordinator against the CA (and presenting the
// worker's certificate when given); plaintext only when insecure.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
channelCredentials(const SecurityOptions &o);
// The token of --token-file without its trailing newline ("" when none);
// InvalidArgument for an unreadable or empty file.
absl::StatusOr<std::string> readToken(const SecurityOptions &o);
// Compares in time independent of where they differ.
bool sameToken(std::string_view a, std::string_view b);

} // namespace fedrt::net
