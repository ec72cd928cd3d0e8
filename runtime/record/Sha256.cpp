#include "record/Sha256.h"

#include <fstream>
#include <vector>

#include <openssl/evp.h>

#include <torch/torch.h>

namespace exprt {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX *>(ctx_), EVP_sha256(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX *>(ctx_)); }

Sha256 &Sha256::update(const void *data, size_t size) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX *>(ctx_), data, size);
  return *this;
}

Sha256 &Sha256::update(const std::string &s) {
  // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
  uint64_t n = s.size();
  update(&n, sizeof n);
  return update(s.data(), s.size());
}

Sha256 &Sha256::update(const torch::Tensor &t) {
  torch::Tensor c = t.detach().contiguous().cpu();
  update(std::string(c.dtype().name()));
  for (int64_t d : c.sizes())
    update(&d, sizeof d);
  return update(c.data_ptr(), c.numel() * c.element_size());
}

std::string Sha256::hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX *>(ctx_), digest, &n);
  static const char *kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

bool sha256OfFile(const std::string &path, std::string &hex) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  Sha256 h;
  std::vector<char> chunk(1 << 20);
  while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0)
    h.update(chunk.data(), static_cast<size_t>(in.gcount()));
  if (in.bad())
    return false;
  hex = h.hex();
  return true;
}

} // namespace exprt
