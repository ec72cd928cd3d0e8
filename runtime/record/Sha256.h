// SHA-256 of byte strings and tensors (OpenSSL's libcrypto), for content keys.
#pragma once

#include <string>
#include <torch/types.h>

namespace exprt {

class Sha256 {
public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256 &) = delete;
  Sha256 &operator=(const Sha256 &) = delete;

  Sha256 &update(const void *data, size_t size);
  Sha256 &update(const std::string &s);
  // Dtype, shape and the bytes of the values (row-major), so equal keys mean
  // equal tensors.
  Sha256 &update(const torch::Tensor &t);
  // Lower-case hex; the object cannot be updated afterwards.
  std::string hex();

private:
  void *ctx_; // EVP_MD_CTX
};

// The plain SHA-256 of a file's bytes, as `sha256sum` prints it, read in
// chunks (weights and .h5ad files can be large); false when it cannot be read.
bool sha256OfFile(const std::string &path, std::string &hex);

} // namespace exprt
