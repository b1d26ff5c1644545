// The online formats: round trips, the exact bytes (they are a contract with stores
// already written), and every malformed input refused without reading past the end.
#include "online/encoding.h"

#include <cstring>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace derived::online {
namespace {

using ::testing::HasSubstr;

TypedValue Int(int64_t i) {
  TypedValue v;
  v.kind = TypedValue::Kind::kInt;
  v.integer = i;
  return v;
}
TypedValue Text(std::string s) {
  TypedValue v;
  v.kind = TypedValue::Kind::kText;
  v.text = std::move(s);
  return v;
}
TypedValue Real(double d) {
  TypedValue v;
  v.kind = TypedValue::Kind::kDouble;
  v.real = d;
  return v;
}

bool Same(const TypedValue& a, const TypedValue& b) {
  if (a.kind != b.kind || a.boolean != b.boolean || a.integer != b.integer ||
      a.unsigned_integer != b.unsigned_integer || a.text != b.text || a.names != b.names ||
      a.items.size() != b.items.size()) {
    return false;
  }
  if (a.kind == TypedValue::Kind::kDouble && std::memcmp(&a.real, &b.real, sizeof a.real) != 0) return false;
  for (size_t i = 0; i < a.items.size(); ++i) {
    if (!Same(a.items[i], b.items[i])) return false;
  }
  return true;
}

TEST(OnlineEncoding, AKeyHasTheseExactBytes) {
  auto key = EncodeKey({Int(42), Text("eu")});
  ASSERT_TRUE(key.ok());
  const std::string expected("\x01\x03\x00\x00\x00\x00\x00\x00\x00\x2a\x07\x00\x00\x00\x02"
                             "eu",
                             17);
  EXPECT_EQ(*key, expected);
  // Typed: the integer 1 and the text "1" are different keys.
  EXPECT_NE(*EncodeKey({Int(1)}), *EncodeKey({Text("1")}));
  // Length-prefixed: ("ab", "c") and ("a", "bc") are different keys.
  EXPECT_NE(*EncodeKey({Text("ab"), Text("c")}), *EncodeKey({Text("a"), Text("bc")}));
}

TEST(OnlineEncoding, KeysAndValuesComeBackAsTheyWent) {
  TypedValue null_value, yes, big, num, list, record;
  yes.kind = TypedValue::Kind::kBool;
  yes.boolean = true;
  big.kind = TypedValue::Kind::kUInt;
  big.unsigned_integer = UINT64_MAX;
  num.kind = TypedValue::Kind::kNumber;
  num.text = "123456789012345678901234567890.5";
  list.kind = TypedValue::Kind::kList;
  list.items = {Int(1), null_value, Text("x")};
  record.kind = TypedValue::Kind::kStruct;
  record.names = {"a", "b"};
  record.items = {list, Real(-0.0)};
  const std::vector<TypedValue> key = {Int(INT64_MIN), Text(std::string("a\0b", 3)), yes, null_value, Real(2.5), big, num};
  auto kb = EncodeKey(key);
  ASSERT_TRUE(kb.ok()) << kb.error().message;
  auto back = DecodeKey(*kb);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->size(), key.size());
  for (size_t i = 0; i < key.size(); ++i) EXPECT_TRUE(Same((*back)[i], key[i])) << i;

  Value v{0x0123456789abcdefULL, 7, 1700000000, {record, Int(-1), Text(""), null_value}};
  auto vb = EncodeValue(v);
  ASSERT_TRUE(vb.ok()) << vb.error().message;
  auto got = DecodeValue(*vb);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->schema, v.schema);
  EXPECT_EQ(got->data_version, 7);
  EXPECT_EQ(got->expires_at, 1700000000);
  ASSERT_EQ(got->columns.size(), v.columns.size());
  for (size_t i = 0; i < v.columns.size(); ++i) EXPECT_TRUE(Same(got->columns[i], v.columns[i])) << i;
  // Byte-stable: the same value, the same bytes.
  EXPECT_EQ(*EncodeValue(v), *vb);
}

TEST(OnlineEncoding, WhatCannotBeAKeyIsRefusedNamingItsColumn) {
  TypedValue list;
  list.kind = TypedValue::Kind::kList;
  auto key = EncodeKey({Int(1), list});
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(key.error().message, HasSubstr("key column 2"));
  EXPECT_FALSE(EncodeKey({}).ok());
}

TEST(OnlineEncoding, EveryTruncationOrOtherVersionIsRefused) {
  TypedValue list;
  list.kind = TypedValue::Kind::kList;
  list.items = {Text("hello"), Int(3)};
  auto vb = *EncodeValue({1, 2, 0, {list, Real(1.5)}});
  for (size_t n = 0; n < vb.size(); ++n) EXPECT_FALSE(DecodeValue(vb.substr(0, n)).ok()) << n;
  EXPECT_FALSE(DecodeValue(vb + "x").ok());
  std::string other = vb;
  other[0] = 2;
  EXPECT_THAT(DecodeValue(other).error().message, HasSubstr("not a value of format 1"));
  auto kb = *EncodeKey({Text("abc"), Int(9)});
  for (size_t n = 0; n < kb.size(); ++n) {
    auto d = DecodeKey(kb.substr(0, n));
    // A prefix that ends between parts is a shorter key, never a wrong one.
    if (d.ok()) {
      EXPECT_EQ(d->size(), 1u) << n;
    }
  }
  // A length that asks for more than there is, or a tag nobody wrote.
  EXPECT_FALSE(DecodeKey(std::string("\x01\x07\xff\xff\xff\xff", 6)).ok());
  EXPECT_FALSE(DecodeKey(std::string("\x01\x63", 2)).ok());
}

TEST(OnlineEncoding, NestingIsBounded) {
  TypedValue v = Int(1);
  for (int i = 0; i < 70; ++i) {
    TypedValue outer;
    outer.kind = TypedValue::Kind::kList;
    outer.items = {v};
    v = outer;
  }
  EXPECT_FALSE(EncodeValue({1, 1, 0, {v}}).ok());
  // Bytes that claim deeper nesting than allowed are refused too.
  std::string deep("\x01", 1);
  deep += std::string(8 * 3, '\0') + std::string("\x00\x00\x00\x01", 4);
  for (int i = 0; i < 70; ++i) deep += std::string("\x08\x00\x00\x00\x01", 5);
  deep += std::string(1, '\0');
  EXPECT_FALSE(DecodeValue(deep).ok());
}

TEST(OnlineEncoding, TheSchemaFingerprintFollowsNamesTypesAndOrder) {
  std::vector<OutputColumn> a = {{"user_id", "BIGINT"}, {"score", "DOUBLE"}};
  std::vector<OutputColumn> b = {{"score", "DOUBLE"}, {"user_id", "BIGINT"}};
  std::vector<OutputColumn> c = {{"user_id", "BIGINT"}, {"score", "FLOAT"}};
  EXPECT_EQ(SchemaFingerprint(a), SchemaFingerprint(a));
  EXPECT_NE(SchemaFingerprint(a), SchemaFingerprint(b));
  EXPECT_NE(SchemaFingerprint(a), SchemaFingerprint(c));
}

}  // namespace
}  // namespace derived::online
