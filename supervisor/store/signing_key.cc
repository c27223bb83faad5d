#include "supervisor/store/signing_key.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "common/files.h"
#include "common/unique_fd.h"

namespace corral::supervisor::store {

namespace {

std::string openssl_why() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string key_id_of(std::string_view public_key) {
  return to_hex(sha256(public_key)).substr(0, 16);
}

void SigningKey::Free::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }

Result<SigningKey> SigningKey::generate() {
  EVP_PKEY* raw = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  bool ok = ctx != nullptr && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &raw) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) return make_error(Code::kInternal, "cannot generate an Ed25519 key: " + openssl_why());
  SigningKey k;
  k.key_.reset(raw);
  unsigned char pub[32];
  size_t len = sizeof pub;
  if (EVP_PKEY_get_raw_public_key(raw, pub, &len) != 1 || len != 32) {
    return make_error(Code::kInternal, "cannot read an Ed25519 public key: " + openssl_why());
  }
  k.public_.assign(reinterpret_cast<const char*>(pub), len);
  k.id_ = key_id_of(k.public_);
  return k;
}

Result<SigningKey> SigningKey::load(const std::string& pem_path) {
  auto pem = read_file(pem_path, 64 << 10);
  if (!pem) return std::unexpected(pem.error());
  BIO* bio = BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size()));
  EVP_PKEY* raw =
      bio != nullptr ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (raw == nullptr) {
    return make_error(Code::kInternal,
                      "cannot read the signing key " + pem_path + ": " + openssl_why());
  }
  SigningKey k;
  k.key_.reset(raw);
  if (EVP_PKEY_get_id(raw) != EVP_PKEY_ED25519) {
    return make_error(Code::kInvalidArgument, pem_path + " is not an Ed25519 key");
  }
  unsigned char pub[32];
  size_t len = sizeof pub;
  if (EVP_PKEY_get_raw_public_key(raw, pub, &len) != 1 || len != 32) {
    return make_error(Code::kInternal, "cannot read the public half of " + pem_path);
  }
  k.public_.assign(reinterpret_cast<const char*>(pub), len);
  k.id_ = key_id_of(k.public_);
  return k;
}

Result<void> SigningKey::save(const std::string& pem_path) const {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio, key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    BIO_free(bio);
    return make_error(Code::kInternal, "cannot encode the signing key: " + openssl_why());
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  UniqueFd fd(::open(pem_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return sys_error("cannot create " + pem_path);
  if (::fchown(fd.get(), 0, 0) != 0 && ::geteuid() == 0)
    return sys_error("cannot chown " + pem_path);
  if (::write(fd.get(), pem.data(), pem.size()) != static_cast<ssize_t>(pem.size())) {
    return sys_error("cannot write " + pem_path);
  }
  if (::fsync(fd.get()) != 0) return sys_error("cannot fsync " + pem_path);
  return {};
}

Result<std::string> SigningKey::sign(std::string_view message) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char sig[64];
  size_t len = sizeof sig;
  bool ok = ctx != nullptr && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key_.get()) == 1 &&
            EVP_DigestSign(ctx, sig, &len, reinterpret_cast<const unsigned char*>(message.data()),
                           message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return make_error(Code::kInternal, "Ed25519 signing failed: " + openssl_why());
  return std::string(reinterpret_cast<const char*>(sig), len);
}

bool verify_signature(std::string_view public_key, std::string_view message, std::string_view sig) {
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key.data()),
      public_key.size());
  if (key == nullptr) {
    ERR_clear_error();
    return false;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  ERR_clear_error();
  return ok;
}

Result<KeyRing> KeyRing::open_public(const std::string& dir) {
  KeyRing ring;
  ring.dir_ = dir;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return sys_error("cannot read the key directory " + dir);
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() != 20 || !name.ends_with(".pub")) continue;
    auto hex = read_file(dir + "/" + name, 4096);
    if (!hex) {
      ::closedir(d);
      return std::unexpected(hex.error());
    }
    std::string pub = from_hex(trim(*hex));
    std::string id = name.substr(0, 16);
    if (pub.size() != 32 || key_id_of(pub) != id) {
      ::closedir(d);
      return make_error(Code::kInternal, "public key " + dir + "/" + name +
                                             " is damaged (its content does not match its id)");
    }
    ring.public_[id] = pub;
  }
  ::closedir(d);
  return ring;
}

Result<void> KeyRing::adopt(SigningKey key) {
  std::string id = key.id();
  if (auto r = key.save(dir_ + "/" + id + ".key"); !r) return r;
  if (auto r = write_file_atomic(dir_ + "/" + id + ".pub", to_hex(key.public_key()) + "\n", 0644);
      !r) {
    return r;
  }
  if (auto r = write_file_atomic(dir_ + "/current", id + "\n", 0600); !r) return r;
  public_[id] = key.public_key();
  current_ = std::make_unique<SigningKey>(std::move(key));
  return {};
}

Result<KeyRing> KeyRing::open(const std::string& dir) {
  if (auto r = make_dirs(dir, 0700); !r) return std::unexpected(r.error());
  struct stat dst {};
  if (::stat(dir.c_str(), &dst) != 0) return sys_error("cannot stat " + dir);
  if ((dst.st_mode & 0777) != 0700 && ::chmod(dir.c_str(), 0700) != 0) {
    return sys_error("cannot chmod " + dir);
  }
  auto ring = open_public(dir);
  if (!ring) return ring;
  auto cur = read_file(dir + "/current", 4096);
  if (!cur) {
    if (cur.error().code != Code::kNotFound) return std::unexpected(cur.error());
    auto key = SigningKey::generate();
    if (!key) return std::unexpected(key.error());
    if (auto r = ring->adopt(std::move(*key)); !r) return std::unexpected(r.error());
    ring->created_ = true;
    return ring;
  }
  std::string id = trim(*cur);
  std::string path = dir + "/" + id + ".key";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return sys_error("the current signing key " + path + " is missing");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", st.st_mode & 0777);
    return make_error(
        Code::kPermissionDenied,
        "the signing key " + path + " is readable by others (mode " + mode + "); chmod 600 it");
  }
  auto key = SigningKey::load(path);
  if (!key) return std::unexpected(key.error());
  if (key->id() != id) {
    return make_error(Code::kInternal, path + " holds key " + key->id() + ", not " + id);
  }
  ring->public_[id] = key->public_key();
  ring->current_ = std::make_unique<SigningKey>(std::move(*key));
  return ring;
}

Result<std::string> KeyRing::rotate() {
  std::string old = current_ ? current_->id() : std::string();
  auto key = SigningKey::generate();
  if (!key) return std::unexpected(key.error());
  if (auto r = adopt(std::move(*key)); !r) return std::unexpected(r.error());
  if (!old.empty() && ::unlink((dir_ + "/" + old + ".key").c_str()) != 0 && errno != ENOENT) {
    return sys_error("rotated to " + current_->id() + " but cannot delete the old private key " +
                     old);
  }
  return current_->id();
}

}  // namespace corral::supervisor::store
