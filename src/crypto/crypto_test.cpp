// Tests for crypto/crypto.h (digests, encodings) and crypto/keyring.h (the AEAD at rest).

#include "crypto/crypto.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include "crypto/keyring.h"

namespace tr::crypto {
namespace {

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256("abc").size(), 32u);
}

TEST(HmacSha256Test, Rfc4231TestCase2) {
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HexEncodeTest, LowercaseTwoDigitsPerByte) {
  EXPECT_EQ(HexEncode(std::string_view("\x00\x0f\xa0\xff", 4)), "000fa0ff");
  EXPECT_EQ(HexEncode(""), "");
}

struct Base64Case {
  std::string_view plain;
  std::string_view standard;  // padded, standard alphabet
  std::string_view url;       // unpadded, URL-safe alphabet
};

// RFC 4648 section 10, plus bytes that hit the two alphabet-specific characters.
constexpr Base64Case kBase64Cases[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
    {"\xfb\xef\xbe", "++++", "----"},
    {"\xff\xff\xff", "////", "____"},
    {"\xfb\xff", "+/8=", "-_8"},
};

TEST(Base64Test, KnownValues) {
  for (const Base64Case& c : kBase64Cases) {
    SCOPED_TRACE(c.standard);
    EXPECT_EQ(Base64Encode(c.plain), c.standard);
    EXPECT_EQ(Base64UrlEncode(c.plain), c.url);
    auto decoded = Base64Decode(c.standard);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, c.plain);
  }
}

TEST(Base64Test, DecodeAcceptsMissingPadding) {
  EXPECT_EQ(Base64Decode("Zg").value_or("?"), "f");
  EXPECT_EQ(Base64Decode("Zm8").value_or("?"), "fo");
}

TEST(Base64Test, RoundTripsEveryByteValueAndLength) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); n += 7) {
    std::string plain = all.substr(0, n);
    auto decoded = Base64Decode(Base64Encode(plain));
    ASSERT_TRUE(decoded.has_value()) << n;
    EXPECT_EQ(*decoded, plain) << n;
    std::string url = Base64UrlEncode(plain);
    EXPECT_EQ(url.find_first_of("+/="), std::string::npos) << url;
  }
  auto random = RandomBytes(1000);
  EXPECT_EQ(Base64Decode(Base64Encode(random)).value_or(""), random);
}

TEST(Base64Test, DecodeRejectsBadInput) {
  constexpr std::string_view kBad[] = {
      "Zm9v!",     // not in the alphabet
      "Zm 9v",     // whitespace
      "Zm9vY",     // a length that no encoding has (4n+1)
      "Z===",      // one character of data
      "Zm=9",      // padding in the middle
      "Zm9v-_8",   // URL alphabet is not the standard one
      "\xc3\xa9",  // non-ASCII
  };
  for (std::string_view text : kBad) {
    EXPECT_FALSE(Base64Decode(text).has_value()) << text;
  }
}

TEST(ConstantTimeEqualsTest, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(RandomBytesTest, LengthAndDistinct) {
  EXPECT_EQ(RandomBytes(0).size(), 0u);
  EXPECT_EQ(RandomBytes(32).size(), 32u);
  EXPECT_NE(RandomBytes(32), RandomBytes(32));
}

// Bytes come from a per-thread block: across many draws, past a block's end, and above the
// size a block serves, every draw is new; two threads never get the same bytes.
TEST(RandomBytesTest, NoDrawRepeatsAcrossBlocksAndThreads) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) EXPECT_TRUE(seen.insert(RandomBytes(16)).second) << i;
  EXPECT_TRUE(seen.insert(RandomBytes(5000)).second);
  std::string other;
  std::thread([&] { other = RandomBytes(32); }).join();
  EXPECT_TRUE(seen.insert(other).second);
  EXPECT_TRUE(seen.insert(RandomBytes(32)).second);
}

// A forked child must not hand out the bytes its parent hands out next (both would hold the
// same block without the fork check).
TEST(RandomBytesTest, AForkedChildDrawsOtherBytes) {
  RandomBytes(16);  // this thread's block is filled
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::string bytes = RandomBytes(32);
    _exit(write(fds[1], bytes.data(), bytes.size()) == 32 ? 0 : 1);
  }
  close(fds[1]);
  std::string from_child(32, '\0');
  ASSERT_EQ(read(fds[0], from_child.data(), 32), 32);
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_NE(from_child, RandomBytes(32));
}

std::string Key(char fill) { return std::string(Keyring::kKeySize, fill); }

TEST(KeyringTest, SealThenOpenRoundTrips) {
  Keyring keyring(Key('k'));
  Sealed sealed = keyring.Seal("client-secret", "row-1");
  EXPECT_EQ(sealed.key_id, keyring.current_key_id());
  EXPECT_EQ(sealed.blob.size(), 12 + std::string_view("client-secret").size() + 16);
  EXPECT_EQ(sealed.blob.find("client-secret"), std::string::npos);
  EXPECT_EQ(keyring.Open(sealed.key_id, sealed.blob, "row-1").value_or("?"), "client-secret");
}

TEST(KeyringTest, EmptyPlaintextRoundTrips) {
  Keyring keyring(Key('k'));
  Sealed sealed = keyring.Seal("", "ad");
  auto opened = keyring.Open(sealed.key_id, sealed.blob, "ad");
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(*opened, "");
}

TEST(KeyringTest, KeyIdIsFirstEightBytesOfSha256InHex) {
  std::string key = Key('k');
  EXPECT_EQ(Keyring::KeyId(key), HexEncode(Sha256(key).substr(0, 8)));
  EXPECT_EQ(Keyring(key).current_key_id(), Keyring::KeyId(key));
  EXPECT_NE(Keyring::KeyId(Key('a')), Keyring::KeyId(Key('b')));
}

TEST(KeyringTest, WrongAssociatedDataFails) {
  Keyring keyring(Key('k'));
  Sealed sealed = keyring.Seal("secret", "row-1");
  EXPECT_FALSE(keyring.Open(sealed.key_id, sealed.blob, "row-2").has_value());
  EXPECT_FALSE(keyring.Open(sealed.key_id, sealed.blob, "").has_value());
}

TEST(KeyringTest, TamperedBlobFails) {
  Keyring keyring(Key('k'));
  Sealed sealed = keyring.Seal("secret", "row-1");
  // Flip one bit in each region: nonce, ciphertext, tag.
  for (size_t index : {size_t{0}, size_t{12}, sealed.blob.size() - 1}) {
    std::string tampered = sealed.blob;
    tampered[index] = static_cast<char>(tampered[index] ^ 0x01);
    EXPECT_FALSE(keyring.Open(sealed.key_id, tampered, "row-1").has_value()) << index;
  }
  EXPECT_FALSE(keyring.Open(sealed.key_id, sealed.blob.substr(0, sealed.blob.size() - 1), "row-1")
                   .has_value());
  EXPECT_FALSE(keyring.Open(sealed.key_id, "", "row-1").has_value());
  EXPECT_FALSE(keyring.Open(sealed.key_id, std::string(27, 'x'), "row-1").has_value());
}

TEST(KeyringTest, UnknownKeyIdFails) {
  Keyring keyring(Key('k'));
  Sealed sealed = keyring.Seal("secret", "row-1");
  EXPECT_FALSE(keyring.Open("0000000000000000", sealed.blob, "row-1").has_value());
  // A keyring with another key does not know the id either.
  Keyring other(Key('o'));
  EXPECT_FALSE(other.Open(sealed.key_id, sealed.blob, "row-1").has_value());
}

TEST(KeyringTest, OldKeyStillOpensWhatItSealed) {
  Keyring old_ring(Key('1'));
  Sealed sealed = old_ring.Seal("secret", "row-1");

  Keyring rotated(Key('2'));
  EXPECT_FALSE(rotated.Open(sealed.key_id, sealed.blob, "row-1").has_value());
  rotated.AddOldKey(Key('1'));
  EXPECT_EQ(rotated.Open(sealed.key_id, sealed.blob, "row-1").value_or("?"), "secret");
  // New seals use the current key, not the old one.
  EXPECT_EQ(rotated.Seal("x", "ad").key_id, Keyring::KeyId(Key('2')));
}

TEST(KeyringTest, NoncesDifferBetweenSealsOfTheSameText) {
  Keyring keyring(Key('k'));
  Sealed a = keyring.Seal("same text", "ad");
  Sealed b = keyring.Seal("same text", "ad");
  EXPECT_NE(a.blob.substr(0, 12), b.blob.substr(0, 12));
  EXPECT_NE(a.blob, b.blob);
}

TEST(KeyringTest, RejectsKeysOfTheWrongSize) {
  EXPECT_THROW(Keyring(std::string(31, 'k')), std::invalid_argument);
  Keyring keyring(Key('k'));
  EXPECT_THROW(keyring.AddOldKey(std::string(33, 'k')), std::invalid_argument);
}

}  // namespace
}  // namespace tr::crypto
