"""Which worker owns which partition (anxin.cluster.leases.assign): bounded-load
rendezvous hashing, pure — every worker must compute the same owners from the same
heartbeats, and no worker may hold more than its share (the cluster runs at the pace
of its fullest worker)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from anxin.cluster.leases import assign

names = st.lists(st.text(st.characters(codec="utf-8"), min_size=1, max_size=12), min_size=1, max_size=12)


@given(parts=st.integers(1, 256), members=names, seed=st.randoms())
def test_every_partition_has_one_owner_and_none_holds_more_than_its_share(parts, members, seed) -> None:
    owners = assign(parts, members)
    assert set(owners) == set(range(parts))
    assert set(owners.values()) <= set(members)
    workers = len(set(members))
    assert max(Counter(owners.values()).values()) == -(-parts // workers)
    shuffled = [*members, *members[:1]]
    seed.shuffle(shuffled)
    assert assign(parts, shuffled) == owners  # order and repeats of the heartbeats do not matter


def test_no_member_owns_nothing() -> None:
    assert assign(64, []) == {}


def test_two_workers_split_64_partitions_evenly_where_plain_rendezvous_did_not() -> None:
    # The bench's names: plain rendezvous hashing (crc32) gave them 37 and 27.
    assert sorted(Counter(assign(64, ["w0", "w1"]).values()).values()) == [32, 32]


def test_a_joining_worker_takes_its_share_and_moves_little_else() -> None:
    for workers in range(1, 9):
        members = [f"worker-{k}" for k in range(workers)]
        before, after = assign(64, members), assign(64, [*members, "joiner"])
        share = 64 / (workers + 1)
        taken = sum(o == "joiner" for o in after.values())
        moved = sum(before[p] != after[p] for p in range(64))
        assert taken >= int(share)
        assert moved <= 2.5 * share, (workers, moved, share)
        # leaving again gives back exactly what was there before
        assert assign(64, members) == before
