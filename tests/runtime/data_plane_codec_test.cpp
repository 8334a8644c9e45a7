// The data plane's frames (runtime/data_plane_codec.hpp): what a producer encodes, the
// receiving node decodes unchanged, in either layout; bytes that are not a frame (among
// them frames of versions 1 to 3) are refused with what and where, never read past
// their end.
#include "runtime/data_plane_codec.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;

namespace {

batch sample() {
  batch b;
  b.source = "read";
  b.sequence = 7;
  b.position = source_position{10, 2, 3};
  b.first_row = 5;
  b.rows = 2;
  auto schema = std::make_shared<table_schema>();
  schema->columns = {{"x", column_kind::numeric}, {"city", column_kind::categorical},
                     {"y", column_kind::label}};
  b.schema = schema;
  b.floats = {1.5f, -2.25f, 0.0f, 1.0f};
  b.categoricals = {categorical_column{{"Oslo", "Bergen"}, {1, -1}}};
  auto transform = std::make_shared<preprocessing>();
  column_op op;
  op.op = column_op::kind::scale;
  op.column = "x";
  op.a = 2;
  op.b = 0.5;
  transform->ops.push_back(op);
  b.transform = transform;
  return b;
}

bool decode(const encoded_frame& e, frame& f, std::string& error) {
  return decode_frame(e.header, e.payload, f, error);
}

} // namespace

BOOST_AUTO_TEST_SUITE(data_plane_codec)

BOOST_AUTO_TEST_CASE(a_batch_frame_decodes_to_the_same_header_and_batch) {
  auto b = sample();
  auto bytes = encode_batch_frame(frame_header{frame_kind::batch, 42, 0xfeedull}, b);
  BOOST_TEST(bytes.payload.size() == b.floats.size() * 4);
  frame f;
  std::string error;
  BOOST_TEST_REQUIRE(decode(bytes, f, error), error);
  BOOST_TEST((f.header.kind == frame_kind::batch));
  BOOST_TEST(f.header.consumer == 42u);
  BOOST_TEST(f.header.token == 0xfeedull);
  BOOST_TEST(f.data.source == "read");
  BOOST_TEST(f.data.sequence == 7u);
  BOOST_TEST((f.data.position == b.position));
  BOOST_TEST(f.data.first_row == 5u);
  BOOST_TEST(f.data.rows == 2u);
  BOOST_TEST((*f.data.schema == *b.schema));
  BOOST_TEST(f.data.floats == b.floats);
  BOOST_TEST_REQUIRE(f.data.categoricals.size() == 1u);
  BOOST_TEST(f.data.categoricals[0].dictionary == b.categoricals[0].dictionary);
  BOOST_TEST(f.data.categoricals[0].codes == b.categoricals[0].codes);
  BOOST_TEST_REQUIRE(f.data.transform != nullptr);
  BOOST_TEST_REQUIRE(f.data.transform->ops.size() == 1u);
  BOOST_TEST(f.data.transform->ops[0].column == "x");
}

BOOST_AUTO_TEST_CASE(a_batch_moved_into_its_frame_is_sent_from_its_own_float_block) {
  auto b = sample();
  const auto expected = b.floats;
  const auto* block = b.floats.data();
  auto bytes = encode_batch_frame(frame_header{frame_kind::batch, 1, 2}, std::move(b));
  BOOST_TEST(static_cast<const void*>(bytes.payload.data()) == static_cast<const void*>(block));
  b = batch{}; // the owner alone keeps the block
  frame f;
  std::string error;
  BOOST_TEST_REQUIRE(decode(bytes, f, error), error);
  BOOST_TEST(f.data.floats == expected);
}

BOOST_AUTO_TEST_CASE(eos_and_model_frames_decode_to_what_was_encoded) {
  frame f;
  std::string error;
  BOOST_TEST_REQUIRE(decode(encode_eos_frame({frame_kind::eos, 1, 2}), f, error), error);
  BOOST_TEST((f.header.kind == frame_kind::eos));
  BOOST_TEST(f.header.token == 2u);
  model_message m{"fashion", std::make_shared<const std::string>(std::string("a\0b", 3)), 4};
  auto model = encode_model_frame({frame_kind::model, 1, 3}, m);
  BOOST_TEST(static_cast<const void*>(model.payload.data()) ==
             static_cast<const void*>(m.artifact->data()));
  BOOST_TEST_REQUIRE(decode(model, f, error), error);
  BOOST_TEST((f.header.kind == frame_kind::model));
  BOOST_TEST(f.model.name == "fashion");
  BOOST_TEST(f.model.version == 4u);
  BOOST_TEST(*f.model.artifact == std::string("a\0b", 3));
}

BOOST_AUTO_TEST_CASE(a_peer_frame_carries_its_replica_tag_and_bytes_sent_from_where_they_are) {
  peer_message m{3, 0x1122334455ull, std::make_shared<const std::string>(std::string("g\0r", 3))};
  auto bytes = encode_peer_frame({frame_kind::peer, 9, 10}, m);
  BOOST_TEST(static_cast<const void*>(bytes.payload.data()) ==
             static_cast<const void*>(m.bytes->data()));
  frame f;
  std::string error;
  BOOST_TEST_REQUIRE(decode(bytes, f, error), error);
  BOOST_TEST((f.header.kind == frame_kind::peer));
  BOOST_TEST(f.header.consumer == 9u);
  BOOST_TEST(f.header.token == 10u);
  BOOST_TEST(f.peer.from_replica == 3);
  BOOST_TEST(f.peer.tag == 0x1122334455ull);
  BOOST_TEST(*f.peer.bytes == std::string("g\0r", 3));
  auto header = bytes.header;
  header[22 + 3] = '\x80'; // the replica's high byte: beyond what an int holds
  BOOST_TEST(!decode_frame(header, bytes.payload, f, error));
  BOOST_TEST(error.find("out of range") != std::string::npos, error);
}

BOOST_AUTO_TEST_CASE(a_batch_decoded_with_its_payloads_owner_keeps_its_floats_in_the_payload) {
  auto b = sample();
  auto bytes = encode_batch_frame(frame_header{frame_kind::batch, 1, 2}, b);
  // A received message's memory: the decoded batch uses it and keeps it alive.
  auto received = std::make_shared<std::vector<float>>(b.floats.begin(), b.floats.end());
  std::weak_ptr<std::vector<float>> watch = received;
  const std::string_view payload(reinterpret_cast<const char*>(received->data()),
                                 received->size() * 4);
  frame f;
  std::string error;
  BOOST_TEST_REQUIRE(decode_frame(bytes.header, payload, f, error, received), error);
  received.reset();
  BOOST_TEST(!watch.expired());
  BOOST_TEST(static_cast<const void*>(f.data.floats.data()) ==
             static_cast<const void*>(payload.data()));
  BOOST_TEST(f.data.floats == b.floats);
  f = frame{};
  BOOST_TEST(watch.expired());
  // Without an owner, the floats are copied.
  BOOST_TEST_REQUIRE(decode(bytes, f, error), error);
  BOOST_TEST(static_cast<const void*>(f.data.floats.data()) !=
             static_cast<const void*>(bytes.payload.data()));
  BOOST_TEST(f.data.floats == b.floats);
}

BOOST_AUTO_TEST_CASE(every_truncation_of_either_part_is_refused_with_its_offset) {
  auto bytes = encode_batch_frame(frame_header{frame_kind::batch, 1, 2}, sample());
  for (std::size_t n = 0; n < bytes.header.size(); ++n) {
    frame f;
    std::string error;
    BOOST_TEST_REQUIRE(!decode_frame(std::string_view(bytes.header).substr(0, n), bytes.payload,
                                     f, error),
                       n);
    BOOST_TEST(error.find("of the header") != std::string::npos, error);
  }
  for (std::size_t n = 0; n < bytes.payload.size(); ++n) {
    frame f;
    std::string error;
    BOOST_TEST_REQUIRE(!decode_frame(bytes.header, bytes.payload.substr(0, n), f, error), n);
    BOOST_TEST(error.find("float count 4 needs a payload of 16 bytes, not " +
                          std::to_string(n)) != std::string::npos,
               error);
  }
}

BOOST_AUTO_TEST_CASE(frames_of_versions_1_to_3_are_refused_naming_their_version) {
  // Version 1: one part, the float block inline; version 2: no credit frames; version 3:
  // always two parts. Here an end-of-stream header, whose layout did not change.
  for (char version : {'\x01', '\x02', '\x03'}) {
    std::string old("CVDP\x01\x02\x01\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\0", 22);
    old[4] = version;
    frame f;
    std::string error;
    BOOST_TEST(!decode_frame(old, {}, f, error));
    BOOST_TEST(error.find("a frame of version " + std::to_string(version) +
                          " (this node reads version 4 only") != std::string::npos,
               error);
  }
}

BOOST_AUTO_TEST_CASE(a_batch_whose_block_has_room_goes_as_one_part_from_its_own_memory) {
  // A block of its own of 64 KiB has room after its floats (data/float_block.hpp): the
  // header goes there, and the one message is the payload, the header and its size.
  auto b = sample();
  b.rows = 8192;
  b.schema = std::make_shared<table_schema>(table_schema{{{"x", column_kind::numeric},
                                                          {"y", column_kind::label}}});
  b.categoricals.clear();
  b.floats = float_block{};
  b.floats.resize(16384);
  for (std::size_t i = 0; i < b.floats.size(); ++i)
    b.floats[i] = static_cast<float>(i);
  const auto expected = b.floats;
  auto bytes = encode_batch_frame(frame_header{frame_kind::batch, 1, 2}, std::move(b));
  BOOST_TEST_REQUIRE(bytes.room >= trailer_size(bytes));
  auto* end = const_cast<char*>(bytes.payload.data() + bytes.payload.size());
  write_trailer(bytes, end);
  const std::string_view message(bytes.payload.data(), bytes.payload.size() + trailer_size(bytes));
  std::string_view header, payload;
  std::string error;
  BOOST_TEST_REQUIRE(split_message(message, header, payload, error), error);
  BOOST_TEST(header == bytes.header);
  BOOST_TEST(payload.data() == bytes.payload.data());
  BOOST_TEST(payload.size() == bytes.payload.size());
  // Decoded with the message's owner, the batch keeps the floats there and the header's
  // bytes as its room (to send it on as one part again).
  frame f;
  std::shared_ptr<void> owner(std::const_pointer_cast<void>(bytes.owner));
  BOOST_TEST_REQUIRE(decode_frame(header, payload, f, error, owner, header.size() + 4), error);
  BOOST_TEST(static_cast<const void*>(f.data.floats.data()) ==
             static_cast<const void*>(payload.data()));
  BOOST_TEST(f.data.floats.room_after() == header.size() + 4);
  BOOST_TEST(f.data.floats == expected);
}

BOOST_AUTO_TEST_CASE(a_small_frame_copied_into_one_part_splits_and_decodes) {
  auto bytes = encode_batch_frame(frame_header{frame_kind::batch, 3, 4}, sample());
  std::string message(bytes.payload);
  message.resize(message.size() + trailer_size(bytes));
  write_trailer(bytes, message.data() + bytes.payload.size());
  std::string_view header, payload;
  std::string error;
  BOOST_TEST_REQUIRE(split_message(message, header, payload, error), error);
  frame f;
  BOOST_TEST_REQUIRE(decode_frame(header, payload, f, error), error);
  BOOST_TEST(f.data.floats == sample().floats);
  BOOST_TEST(f.data.source == "read");
  // An end of stream: no payload, the header and its size only.
  auto eos = encode_eos_frame({frame_kind::eos, 5, 6});
  std::string eos_message(trailer_size(eos), '\0');
  write_trailer(eos, eos_message.data());
  BOOST_TEST_REQUIRE(split_message(eos_message, header, payload, error), error);
  BOOST_TEST(payload.empty());
  BOOST_TEST_REQUIRE(decode_frame(header, payload, f, error), error);
  BOOST_TEST((f.header.kind == frame_kind::eos));
}

BOOST_AUTO_TEST_CASE(a_one_part_message_too_short_for_its_header_size_is_refused) {
  std::string_view header, payload;
  std::string error;
  BOOST_TEST(!split_message(std::string_view("abc", 3), header, payload, error));
  BOOST_TEST(error.find("shorter than its header size") != std::string::npos, error);
  BOOST_TEST(!split_message(std::string_view("ab\x03\0\0\0", 6), header, payload, error));
  BOOST_TEST(error.find("a one-part frame of 6 bytes with a header of 3") != std::string::npos,
             error);
  BOOST_TEST_REQUIRE(split_message(std::string_view("ab\x02\0\0\0", 6), header, payload, error));
  BOOST_TEST(header == "ab");
  BOOST_TEST(payload.empty());
}

BOOST_AUTO_TEST_CASE(a_credit_frame_decodes_to_its_count_and_a_bad_one_is_refused) {
  auto bytes = encode_credit_frame({frame_kind::batch, 12, 34}, 16);
  BOOST_TEST(bytes.payload.empty());
  frame f;
  std::string error;
  BOOST_TEST_REQUIRE(decode(bytes, f, error), error);
  BOOST_TEST((f.header.kind == frame_kind::credit));
  BOOST_TEST(f.header.consumer == 12u);
  BOOST_TEST(f.header.token == 34u);
  BOOST_TEST(f.credit == 16u);
  BOOST_TEST(!decode(encode_credit_frame({frame_kind::credit, 12, 34}, 0), f, error));
  BOOST_TEST(error.find("granting 0 batches") != std::string::npos, error);
  BOOST_TEST(!decode(encode_credit_frame({frame_kind::credit, 12, 34}, 0x80000000u), f, error));
  BOOST_TEST(error.find("out of range") != std::string::npos, error);
  BOOST_TEST(!decode_frame(bytes.header, "x", f, error));
  BOOST_TEST(error.find("credit frame with a payload of 1 bytes") != std::string::npos, error);
  BOOST_TEST(!decode_frame(bytes.header.substr(0, bytes.header.size() - 1), {}, f, error));
  BOOST_TEST(error.find("truncated credit") != std::string::npos, error);
}

BOOST_AUTO_TEST_CASE(a_frame_with_bad_magic_trailing_bytes_or_a_huge_count_is_refused) {
  frame f;
  std::string error;
  BOOST_TEST(!decode_frame("XXXX\x03\x02", {}, f, error));
  BOOST_TEST(error.find("bad magic") != std::string::npos, error);
  auto bytes = encode_eos_frame({frame_kind::eos, 1, 2}).header + "x";
  BOOST_TEST(!decode_frame(bytes, {}, f, error));
  BOOST_TEST(error.find("trailing bytes") != std::string::npos, error);
  BOOST_TEST(!decode_frame(encode_eos_frame({frame_kind::eos, 1, 2}).header, "x", f, error));
  BOOST_TEST(error.find("end-of-stream frame with a payload of 1 bytes") != std::string::npos,
             error);
  // A batch whose column count claims more than the frame holds.
  batch b;
  b.schema = std::make_shared<table_schema>();
  auto huge = encode_batch_frame({frame_kind::batch, 1, 2}, b).header;
  // source (4+0), sequence, 3 positions, first_row (8 each), rows (4): the column count follows.
  const std::size_t at = 4 + 1 + 1 + 8 + 8 + 4 + 8 * 5 + 4;
  huge[at] = '\xff';
  huge[at + 1] = '\xff';
  BOOST_TEST(!decode_frame(huge, {}, f, error));
  BOOST_TEST(error.find("larger than the frame") != std::string::npos, error);
}

BOOST_AUTO_TEST_SUITE_END()
