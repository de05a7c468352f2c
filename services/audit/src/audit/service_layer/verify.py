"""Verification of the chain: finds a modified, deleted, reordered or forged entry and says which.

The walk starts at the newest purge checkpoint (or the genesis) and goes through every stored entry
in order, holding only the previous entry's position and hash:
- an entry whose recomputed hash differs from its stored hash was modified;
- a gap in the numbering is that many deleted entries;
- an entry that doesn't link to its predecessor was moved (it links to another stored entry:
  reordered) or made up (it links to nothing: forged);
- an entry not covered by a valid seal or signed checkpoint was appended without the signing key:
  forged;
- a signed checkpoint or the chain head pointing past the last stored entry means the newest
  entries were deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.adapters.store import AuditStore, Checkpoint
from audit.domain.chain import GENESIS_HASH, entry_hash, seal_message

MAX_PROBLEMS = 100


@dataclass(frozen=True)
class Problem:
    kind: str  # modified | missing | reordered | forged | checkpoint
    seq: int
    entry_id: str
    detail: str


@dataclass
class VerifyReport:
    ok: bool = True
    entries_checked: int = 0
    missing: int = 0
    start_seq: int = 0
    end_seq: int = 0
    checkpoints_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def add(self, problem: Problem) -> None:
        self.ok = False
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def to_dict(self) -> dict[str, object]:
        first = self.first
        return {
            "ok": self.ok,
            "entries_checked": self.entries_checked,
            "missing": self.missing,
            "first_bad_id": first.entry_id if first else None,
            "first_bad_seq": first.seq if first else None,
            "first_problem": first.kind if first else None,
            "start_seq": self.start_seq,
            "end_seq": self.end_seq,
            "checkpoints_checked": self.checkpoints_checked,
            "problems": [p.__dict__ for p in self.problems],
        }


def verify_chain(store: AuditStore) -> VerifyReport:
    signer = store.signer
    report = VerifyReport()
    start = store.latest_checkpoint("purge")
    start_seq, start_hash = (start.seq, start.last_hash) if start else (0, GENESIS_HASH)
    checkpoints = store.checkpoints_after(start_seq)
    for cp in checkpoints:
        report.checkpoints_checked += 1
        if not signer.verify(cp.signed_content(), cp.signature):
            report.add(Problem("checkpoint", cp.seq, cp.last_id or "", f"checkpoint {cp.id} has an invalid signature"))
    anchors: dict[int, Checkpoint] = {
        cp.seq: cp for cp in checkpoints if signer.verify(cp.signed_content(), cp.signature)
    }
    report.start_seq = start_seq

    prev_seq, prev_hash = start_seq, start_hash
    # The first entry after the newest seal or signed checkpoint: nothing vouches for it yet.
    unsealed_from: tuple[int, str] | None = None
    for entry in store.iter_chain(start_seq):
        report.entries_checked += 1
        if entry_hash(entry.prev_hash, entry.content()) != entry.hash:
            report.add(Problem("modified", entry.seq, entry.id, "the entry's content does not match its hash"))
        if entry.seq != prev_seq + 1:
            gap = entry.seq - prev_seq - 1
            report.missing += gap
            report.add(Problem("missing", entry.seq, entry.id, f"{gap} entries missing before this one"))
        elif entry.prev_hash != prev_hash:
            found = store.find_by_hash(entry.prev_hash)
            if found is not None:
                detail = f"links to entry {found[1]} (position {found[0]}), not to its predecessor"
                report.add(Problem("reordered", entry.seq, entry.id, detail))
            else:
                report.add(Problem("forged", entry.seq, entry.id, "links to no stored entry"))
        vouched = False
        if entry.seal is not None:
            if signer.verify(seal_message(entry.seq, entry.id, entry.hash), entry.seal):
                vouched = True
            else:
                report.add(Problem("forged", entry.seq, entry.id, "its seal is not a valid signature"))
        anchor = anchors.get(entry.seq)
        if anchor is not None:
            if anchor.last_hash != entry.hash or (anchor.last_id and anchor.last_id != entry.id):
                report.add(Problem("checkpoint", entry.seq, entry.id, f"differs from signed checkpoint {anchor.id}"))
            else:
                vouched = True
        if vouched:
            unsealed_from = None
        elif unsealed_from is None:
            unsealed_from = (entry.seq, entry.id)
        prev_seq, prev_hash = entry.seq, entry.hash
    report.end_seq = prev_seq

    expected_end = max([store.head()[0], *(cp.seq for cp in checkpoints)])
    if expected_end > prev_seq:
        report.missing += expected_end - prev_seq
        report.add(Problem("missing", prev_seq + 1, "", f"the newest {expected_end - prev_seq} entries are missing"))
    elif unsealed_from is not None:
        report.add(
            Problem("forged", unsealed_from[0], unsealed_from[1], "not covered by any seal: appended without the key")
        )
    return report
