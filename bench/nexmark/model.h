// Nexmark's data model: the three event kinds of an online auction (Person,
// Auction, Bid) in one tagged Event, so that every query reads one stream,
// and the result records of the queries.
//
// Every record carries `created_us`: the wall-clock time (microseconds since
// the epoch) at which the source emitted the event, or for a result the
// newest such time among the events it was computed from. It is not part of
// Nexmark's schema; sinks measure end-to-end latency with it, and the
// reference implementation leaves it 0 (WithoutCreation clears it before
// results are compared).
#pragma once

#include <eddy/eddy.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace nexmark {

struct Person {
  int64_t id = 0;
  std::string name;
  std::string emailAddress;
  std::string creditCard;
  std::string city;
  std::string state;
  int64_t dateTime = 0;
  std::string extra;
};

struct Auction {
  int64_t id = 0;
  std::string itemName;
  std::string description;
  int64_t initialBid = 0;
  int64_t reserve = 0;
  int64_t dateTime = 0;
  int64_t expires = 0;
  int64_t seller = 0;
  int64_t category = 0;
  std::string extra;
};

struct Bid {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  std::string channel;
  std::string url;
  int64_t dateTime = 0;
  std::string extra;
};

enum class EventType : uint8_t { kPerson = 0, kAuction = 1, kBid = 2 };

// One Nexmark event: `type` says which of person, auction and bid is set;
// the other two stay empty (and are not serialized).
struct Event {
  EventType type = EventType::kBid;
  Person person;
  Auction auction;
  Bid bid;
  int64_t created_us = 0;

  bool isPerson() const { return type == EventType::kPerson; }
  bool isAuction() const { return type == EventType::kAuction; }
  bool isBid() const { return type == EventType::kBid; }
  // The event time (dateTime) of whichever kind this is.
  int64_t dateTime() const {
    switch (type) {
      case EventType::kPerson:
        return person.dateTime;
      case EventType::kAuction:
        return auction.dateTime;
      case EventType::kBid:
        return bid.dateTime;
    }
    return 0;
  }
};

// Prints the event kind and its fields (what q0's FileSink writes).
std::ostream& operator<<(std::ostream& out, const Event& event);

// ---- Results ----

// q1: a bid with its price converted from dollars to euros.
struct Q1Result {
  int64_t auction = 0;
  int64_t bidder = 0;
  double price = 0;
  int64_t dateTime = 0;
  std::string extra;
  int64_t created_us = 0;
};

// q2: bids on the selected auctions.
struct Q2Result {
  int64_t auction = 0;
  int64_t price = 0;
  int64_t created_us = 0;
};

// q3: a seller in OR, ID or CA and one of their category-10 auctions.
struct Q3Result {
  std::string name;
  std::string city;
  std::string state;
  int64_t auctionId = 0;
  int64_t created_us = 0;
};

// q4 (intermediate): the winning bid of an auction that closed.
struct WinningBid {
  int64_t auction = 0;
  int64_t category = 0;
  int64_t price = 0;
  int64_t created_us = 0;
};

// q4: the average winning price of a category after its `closed`-th closed
// auction; the result with the largest `closed` is the final one.
struct Q4Result {
  int64_t category = 0;
  int64_t closed = 0;
  double average = 0;
  int64_t created_us = 0;
};

// q5: an auction with the most bids of a sliding window (ties: all of them).
struct Q5Result {
  int64_t auction = 0;
  int64_t num = 0;
  int64_t windowStart = 0;
  int64_t windowEnd = 0;
  int64_t created_us = 0;
};

// q7: a bid with the highest price of its tumbling window (ties: all).
struct Q7Result {
  int64_t auction = 0;
  int64_t price = 0;
  int64_t bidder = 0;
  int64_t dateTime = 0;
  std::string extra;
  int64_t created_us = 0;
};

// q8: a person who registered and opened an auction in the same window.
struct Q8Result {
  int64_t id = 0;
  std::string name;
  int64_t windowStart = 0;
  int64_t created_us = 0;
};

// q11: the bids of one bidder's session.
struct Q11Result {
  int64_t bidder = 0;
  int64_t bidCount = 0;
  int64_t sessionStart = 0;
  int64_t sessionEnd = 0;
  int64_t created_us = 0;
};

// q12: the bids of one bidder in one processing-time window.
struct Q12Result {
  int64_t bidder = 0;
  int64_t bidCount = 0;
  int64_t created_us = 0;
};

// A copy of `result` with created_us cleared, for comparisons with the
// reference.
template <class R>
R WithoutCreation(R result) {
  result.created_us = 0;
  return result;
}

}  // namespace nexmark

EDDY_FIELDS(nexmark::Person, id, name, emailAddress, creditCard, city, state, dateTime, extra);
EDDY_FIELDS(nexmark::Auction, id, itemName, description, initialBid, reserve, dateTime, expires, seller, category,
            extra);
EDDY_FIELDS(nexmark::Bid, auction, bidder, price, channel, url, dateTime, extra);
EDDY_FIELDS(nexmark::Q1Result, auction, bidder, price, dateTime, extra, created_us);
EDDY_FIELDS(nexmark::Q2Result, auction, price, created_us);
EDDY_FIELDS(nexmark::Q3Result, name, city, state, auctionId, created_us);
EDDY_FIELDS(nexmark::WinningBid, auction, category, price, created_us);
EDDY_FIELDS(nexmark::Q4Result, category, closed, average, created_us);
EDDY_FIELDS(nexmark::Q5Result, auction, num, windowStart, windowEnd, created_us);
EDDY_FIELDS(nexmark::Q7Result, auction, price, bidder, dateTime, extra, created_us);
EDDY_FIELDS(nexmark::Q8Result, id, name, windowStart, created_us);
EDDY_FIELDS(nexmark::Q11Result, bidder, bidCount, sessionStart, sessionEnd, created_us);
EDDY_FIELDS(nexmark::Q12Result, bidder, bidCount, created_us);

// Only the kind that is set goes on the wire: a tag byte, that kind's fields,
// then created_us.
template <>
struct eddy::TypeSerializer<nexmark::Event> {
  static constexpr size_t kMinEncodedSize = 2;
  static void Serialize(const nexmark::Event& event, DataOutput& out) {
    out.WriteByte(static_cast<uint8_t>(event.type));
    switch (event.type) {
      case nexmark::EventType::kPerson:
        TypeSerializer<nexmark::Person>::Serialize(event.person, out);
        break;
      case nexmark::EventType::kAuction:
        TypeSerializer<nexmark::Auction>::Serialize(event.auction, out);
        break;
      case nexmark::EventType::kBid:
        TypeSerializer<nexmark::Bid>::Serialize(event.bid, out);
        break;
    }
    TypeSerializer<int64_t>::Serialize(event.created_us, out);
  }
  static void Deserialize(DataInput& in, nexmark::Event& event) {
    const size_t start = in.position();
    const uint8_t tag = in.ReadByte();
    switch (tag) {
      case 0:
        TypeSerializer<nexmark::Person>::Deserialize(in, event.person);
        break;
      case 1:
        TypeSerializer<nexmark::Auction>::Deserialize(in, event.auction);
        break;
      case 2:
        TypeSerializer<nexmark::Bid>::Deserialize(in, event.bid);
        break;
      default:
        in.FailAt(start, "invalid Nexmark event tag " + std::to_string(tag));
        return;
    }
    event.type = static_cast<nexmark::EventType>(tag);
    TypeSerializer<int64_t>::Deserialize(in, event.created_us);
  }
};
