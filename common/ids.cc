// Id16: random ids for jobs and attempts, and hash-derived ids for vertices
// whose id must be stable across submissions of the same program.
#include "eddy/ids.h"

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"

namespace eddy {
namespace {

uint64_t LoadLittleEndian64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void StoreLittleEndian64(uint64_t v, uint8_t* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint64_t Fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

// MurmurHash3_x64_128 (Austin Appleby's reference algorithm). The 16 output
// bytes are h1 then h2, each little-endian: the reference's byte output, so
// the hex matches what other implementations (e.g. Python's mmh3) print.
std::array<uint8_t, 16> MurmurHash3X64_128(std::string_view text,
                                           uint64_t seed) {
  const auto* data = reinterpret_cast<const unsigned char*>(text.data());
  const size_t len = text.size();
  const size_t num_blocks = len / 16;
  uint64_t h1 = seed;
  uint64_t h2 = seed;
  constexpr uint64_t c1 = 0x87c37b91114253d5ULL;
  constexpr uint64_t c2 = 0x4cf5ad432745937fULL;

  for (size_t i = 0; i < num_blocks; ++i) {
    uint64_t k1 = LoadLittleEndian64(data + i * 16);
    uint64_t k2 = LoadLittleEndian64(data + i * 16 + 8);

    k1 *= c1;
    k1 = std::rotl(k1, 31);
    k1 *= c2;
    h1 ^= k1;
    h1 = std::rotl(h1, 27);
    h1 += h2;
    h1 = h1 * 5 + 0x52dce729;

    k2 *= c2;
    k2 = std::rotl(k2, 33);
    k2 *= c1;
    h2 ^= k2;
    h2 = std::rotl(h2, 31);
    h2 += h1;
    h2 = h2 * 5 + 0x38495ab5;
  }

  const unsigned char* tail = data + num_blocks * 16;
  uint64_t k1 = 0;
  uint64_t k2 = 0;
  switch (len & 15) {
    case 15:
      k2 ^= static_cast<uint64_t>(tail[14]) << 48;
      [[fallthrough]];
    case 14:
      k2 ^= static_cast<uint64_t>(tail[13]) << 40;
      [[fallthrough]];
    case 13:
      k2 ^= static_cast<uint64_t>(tail[12]) << 32;
      [[fallthrough]];
    case 12:
      k2 ^= static_cast<uint64_t>(tail[11]) << 24;
      [[fallthrough]];
    case 11:
      k2 ^= static_cast<uint64_t>(tail[10]) << 16;
      [[fallthrough]];
    case 10:
      k2 ^= static_cast<uint64_t>(tail[9]) << 8;
      [[fallthrough]];
    case 9:
      k2 ^= static_cast<uint64_t>(tail[8]);
      k2 *= c2;
      k2 = std::rotl(k2, 33);
      k2 *= c1;
      h2 ^= k2;
      [[fallthrough]];
    case 8:
      k1 ^= static_cast<uint64_t>(tail[7]) << 56;
      [[fallthrough]];
    case 7:
      k1 ^= static_cast<uint64_t>(tail[6]) << 48;
      [[fallthrough]];
    case 6:
      k1 ^= static_cast<uint64_t>(tail[5]) << 40;
      [[fallthrough]];
    case 5:
      k1 ^= static_cast<uint64_t>(tail[4]) << 32;
      [[fallthrough]];
    case 4:
      k1 ^= static_cast<uint64_t>(tail[3]) << 24;
      [[fallthrough]];
    case 3:
      k1 ^= static_cast<uint64_t>(tail[2]) << 16;
      [[fallthrough]];
    case 2:
      k1 ^= static_cast<uint64_t>(tail[1]) << 8;
      [[fallthrough]];
    case 1:
      k1 ^= static_cast<uint64_t>(tail[0]);
      k1 *= c1;
      k1 = std::rotl(k1, 31);
      k1 *= c2;
      h1 ^= k1;
  }

  h1 ^= len;
  h2 ^= len;
  h1 += h2;
  h2 += h1;
  h1 = Fmix64(h1);
  h2 = Fmix64(h2);
  h1 += h2;
  h2 += h1;

  std::array<uint8_t, 16> out;
  StoreLittleEndian64(h1, out.data());
  StoreLittleEndian64(h2, out.data() + 8);
  return out;
}

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Id16 Id16::Generate() {
  // absl::BitGen seeds itself from OS entropy; one per thread avoids a lock,
  // since a single BitGen must not be shared between threads.
  thread_local absl::BitGen gen;
  Id16 id;
  // The zero id means "unset" to callers (IsZero), so never hand it out.
  do {
    StoreLittleEndian64(absl::Uniform<uint64_t>(gen), id.bytes_.data());
    StoreLittleEndian64(absl::Uniform<uint64_t>(gen), id.bytes_.data() + 8);
  } while (id.IsZero());
  return id;
}

Id16 Id16::FromHash(std::string_view text) {
  Id16 id;
  id.bytes_ = MurmurHash3X64_128(text, /*seed=*/0);
  return id;
}

absl::StatusOr<Id16> Id16::FromHex(std::string_view hex) {
  Id16 id;
  bool valid = hex.size() == 2 * id.bytes_.size();
  for (size_t i = 0; valid && i < id.bytes_.size(); ++i) {
    const int hi = HexDigitValue(hex[2 * i]);
    const int lo = HexDigitValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      valid = false;
    } else {
      id.bytes_[i] = static_cast<uint8_t>((hi << 4) | lo);
    }
  }
  if (!valid) {
    return absl::InvalidArgumentError(
        absl::StrFormat("invalid id '%s': expected 32 hex characters", hex));
  }
  return id;
}

std::string Id16::ToHex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * bytes_.size(), '0');
  for (size_t i = 0; i < bytes_.size(); ++i) {
    out[2 * i] = kDigits[bytes_[i] >> 4];
    out[2 * i + 1] = kDigits[bytes_[i] & 0xf];
  }
  return out;
}

bool Id16::IsZero() const {
  for (uint8_t b : bytes_) {
    if (b != 0) return false;
  }
  return true;
}

}  // namespace eddy
