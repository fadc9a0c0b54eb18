// Credentials and tokens (net/Security.h).
#include "Security.h"

#include <fstream>
#include <sstream>

namespace fedrt::net {

namespace {

absl::StatusOr<std::string> readFile(const std::string &path,
                                     const char *what) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in || text.str().empty())
    return absl::InvalidArgumentError(path + ": cannot read the " + what);
  return text.str();
}

} // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
serverCredentials(const SecurityOptions &o) {
  if (o.insecure)
    return grpc::InsecureServerCredentials();
  if (o.tlsCert.empty() || o.tlsKey.empty())
    return absl::InvalidArgumentError(
        "give --tls-cert and --tls-key (or --insecure for plaintext)");
  absl::StatusOr<std::string> cert = readFile(o.tlsCert, "TLS certificate");
  if (!cert.ok())
    return cert.status();
  absl::StatusOr<std::string> key = readFile(o.tlsKey, "TLS key");
  if (!key.ok())
    return key.status();
  grpc::SslServerCredentialsOptions tls(
      o.tlsCa.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_key_cert_pairs.push_back({*key, *cert});
  if (!o.tlsCa.empty()) {
    absl::StatusOr<std::string> ca = readFile(o.tlsCa, "CA certificate");
    if (!ca.ok())
      return ca.status();
    tls.pem_root_certs = *ca;
  }
  return grpc::SslServerCredentials(tls);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
channelCredentials(const SecurityOptions &o) {
  if (o.insecure)
    return grpc::InsecureChannelCredentials();
  if (o.tlsCa.empty())
    return absl::InvalidArgumentError(
        "give --tls-ca (the CA that signed the coordinator's certificate), or "
        "--insecure for plaintext");
  grpc::SslCredentialsOptions tls;
  absl::StatusOr<std::string> ca = readFile(o.tlsCa, "CA certificate");
  if (!ca.ok())
    return ca.status();
  tls.pem_root_certs = *ca;
  if (!o.tlsCert.empty() || !o.tlsKey.empty()) {
    absl::StatusOr<std::string> cert = readFile(o.tlsCert, "TLS certificate");
    if (!cert.ok())
      return cert.status();
    absl::StatusOr<std::string> key = readFile(o.tlsKey, "TLS key");
    if (!key.ok())
      return key.status();
    tls.pem_cert_chain = *cert;
    tls.pem_private_key = *key;
  }
  return grpc::SslCredentials(tls);
}

absl::StatusOr<std::string> readToken(const SecurityOptions &o) {
  if (o.tokenFile.empty())
    return std::string();
  absl::StatusOr<std::string> token = readFile(o.tokenFile, "token");
  if (!token.ok())
    return token.status();
  std::string t = *token;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r'))
    t.pop_back();
  if (t.empty() || t.find_first_of("\r\n") != std::string::npos)
    return absl::InvalidArgumentError(o.tokenFile +
                                      ": the token must be one line");
  return t;
}

bool sameToken(std::string_view a, std::string_view b) {
  if (b.empty())
    return false;
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i % b.size()]);
  return diff == 0;
}

} // namespace fedrt::net
