// CacheFileQueue and CacheFileWriter states, per slot: the last ticket queued
// (slot_last_ticket_) and the last ticket applied (slot_applied_). The ops between them have
// been queued or taken, and wait to be applied one after the other:
//   queued   -- in the queue (under its owner's lock), with its ticket and its slot's prev
//   taken    -- Take handed it to a thread, which applies it next, without the owner's lock
//   waiting  -- in Apply, until slot_applied_ of its slot is its prev
//   applied  -- the CacheFile call returned (ok or not); slot_applied_ is its ticket
//
// Invariants
//   | invariant                                           | kept by                          |
//   |-----------------------------------------------------|----------------------------------|
//   | tickets grow in the order of the queue's calls; a   | Add: ticket = next_ticket_++,    |
//   |   slot's ops chain by prev                          |   prev = the slot's last ticket  |
//   | a slot's ops reach the file in ticket order         | Apply waits for slot_applied_ == |
//   |                                                     |   prev before the CacheFile call |
//   | no deadlock: an op waits only for a smaller ticket, | Take hands out ops in ticket     |
//   |   held by a thread applying its own ordered batch   |   order; Apply never waits on    |
//   |   that waits only for smaller ones                  |   anything but smaller tickets;  |
//   |                                                     |   the owner applies all it takes |
//   | a failed op does not stall its slot                 | Apply records it as applied      |
//   | mu_ is never held during file I/O or an MD5         | Apply locks only to wait and to  |
//   |                                                     |   record                         |
#include "block/cache_file_writer.h"

#include "base/log.h"

namespace s3disk {

void CacheFileQueue::Add(CacheFileOp op) {
  op.ticket = next_ticket_++;
  op.prev = slot_last_ticket_[op.slot];
  slot_last_ticket_[op.slot] = op.ticket;
  ops_.push_back(std::move(op));
}

void CacheFileQueue::Put(uint32_t slot, BlockNum n, bool dirty, uint64_t seq, BlockBytes data,
                         bool zero, std::optional<Md5Digest> md5) {
  CacheFileOp op;
  op.kind = CacheFileOp::Kind::kPut;
  op.slot = slot;
  op.n = n;
  op.dirty = dirty;
  op.zero = zero;
  op.seq = seq;
  op.data = std::move(data);
  op.md5 = md5;
  Add(std::move(op));
}

void CacheFileQueue::MarkClean(uint32_t slot) {
  CacheFileOp op;
  op.kind = CacheFileOp::Kind::kMarkClean;
  op.slot = slot;
  Add(std::move(op));
}

void CacheFileQueue::Clear(uint32_t slot) {
  CacheFileOp op;
  op.kind = CacheFileOp::Kind::kClear;
  op.slot = slot;
  Add(std::move(op));
}

std::vector<CacheFileOp> CacheFileQueue::Take() {
  std::vector<CacheFileOp> ops;
  ops.swap(ops_);
  return ops;
}

void CacheFileWriter::Apply(std::vector<CacheFileOp>& ops) {
  for (CacheFileOp& op : ops) {
    {
      MutexLock lock(mu_);
      cv_.wait(mu_, [&]() REQUIRES(mu_) { return slot_applied_[op.slot] == op.prev; });
    }
    Status st;
    switch (op.kind) {
      case CacheFileOp::Kind::kPut:
        st = file_.Put(op.slot, op.n, op.dirty, op.seq, op.data, op.zero,
                       op.md5.has_value() ? &*op.md5 : nullptr);
        break;
      case CacheFileOp::Kind::kMarkClean:
        st = file_.MarkClean(op.slot);
        break;
      case CacheFileOp::Kind::kClear:
        st = file_.Clear(op.slot);
        break;
    }
    if (!st.ok()) LOG_WARN("cache: %s", st.ToString().c_str());
    {
      MutexLock lock(mu_);
      slot_applied_[op.slot] = op.ticket;
    }
    cv_.notify_all();
  }
  ops.clear();  // the data copies go now, not at the end of the caller's unlocked call
}

}  // namespace s3disk
