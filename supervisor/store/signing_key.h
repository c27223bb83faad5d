// Ed25519 signing keys (OpenSSL) for the audit trail's checkpoints, and the KeyRing that keeps
// them on disk: <dir>/<id>.key (private, PEM, 0600, root), <dir>/<id>.pub (hex, kept after the
// key retires so old checkpoints still verify) and <dir>/current naming the signing key. A key's
// id is the first 16 hex digits of the SHA-256 of its public key.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/error.h"
#include "common/hex.h"
#include "common/sha256.h"

using EVP_PKEY = struct evp_pkey_st;

namespace corral::supervisor::store {

class SigningKey {
 public:
  [[nodiscard]] static Result<SigningKey> generate();
  [[nodiscard]] static Result<SigningKey> load(const std::string& pem_path);
  // Writes the private key (0600, created exclusively, fsync'd).
  [[nodiscard]] Result<void> save(const std::string& pem_path) const;
  [[nodiscard]] const std::string& public_key() const { return public_; }  // 32 raw bytes
  [[nodiscard]] const std::string& id() const { return id_; }
  [[nodiscard]] Result<std::string> sign(std::string_view message) const;  // 64 raw bytes

 private:
  struct Free {
    void operator()(EVP_PKEY* k) const;
  };
  std::unique_ptr<EVP_PKEY, Free> key_;
  std::string public_;
  std::string id_;
};

[[nodiscard]] std::string key_id_of(std::string_view public_key);
// Whether sig is public_key's Ed25519 signature of message.
[[nodiscard]] bool verify_signature(std::string_view public_key, std::string_view message,
                                    std::string_view sig);

class KeyRing {
 public:
  // Loads the keys in dir (created 0700 if missing); with no current key, generates one.
  [[nodiscard]] static Result<KeyRing> open(const std::string& dir);
  // Loads only the public keys (verifying a store without its private key, e.g. a backup).
  [[nodiscard]] static Result<KeyRing> open_public(const std::string& dir);
  [[nodiscard]] const SigningKey& current() const { return *current_; }
  [[nodiscard]] bool can_sign() const { return current_ != nullptr; }
  // Every public key ever used here, by id (hex public key).
  [[nodiscard]] const std::map<std::string, std::string>& public_keys() const { return public_; }
  // A new signing key becomes current; the old private key is deleted, its public key kept.
  // Returns the new id.
  [[nodiscard]] Result<std::string> rotate();
  [[nodiscard]] const std::string& dir() const { return dir_; }
  // True when this open made the key (first start).
  [[nodiscard]] bool created() const { return created_; }

 private:
  [[nodiscard]] Result<void> adopt(SigningKey key);
  std::string dir_;
  std::unique_ptr<SigningKey> current_;
  std::map<std::string, std::string> public_;
  bool created_ = false;
};

using corral::from_hex;  // common/hex.h
using corral::sha256;    // 32 raw bytes (common/sha256.h)
using corral::to_hex;

}  // namespace corral::supervisor::store
