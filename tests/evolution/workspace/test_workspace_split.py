"""Files are held out by a hash of their path: a share, stable, whatever the order or growth."""

from __future__ import annotations

import random

import pytest

from evolution.workspace.split import MIN_HELDOUT_FILES, split_by_path, split_point

PATHS = [f"pkg{i % 7}/module_{i}.py" for i in range(400)]


def test_about_the_share_is_held_out_and_the_sides_partition_the_files():
    train, heldout = split_by_path(PATHS, 0.1)
    assert sorted(train + heldout) == sorted(PATHS) and not set(train) & set(heldout)
    assert 25 <= len(heldout) <= 55  # 40 expected; the binomial's spread is about 6
    assert all(split_point(p) < 0.1 for p in heldout)
    assert train == sorted(train) and heldout == sorted(heldout)


def test_the_order_of_the_paths_does_not_matter():
    shuffled = PATHS[:]
    random.Random(3).shuffle(shuffled)
    assert split_by_path(shuffled, 0.1) == split_by_path(PATHS, 0.1)


def test_a_held_out_file_stays_held_out_as_the_workspace_grows():
    _, before = split_by_path(PATHS[:200], 0.1)
    _, after = split_by_path(PATHS, 0.1)
    assert set(before) <= set(after)


def test_the_choice_is_the_paths_hash_not_the_content_or_the_run():
    # Pinned: a change of hash would move files between the sides and void earlier gates.
    assert split_point("app/core.py") == pytest.approx(0.1154177, abs=1e-7)


def test_a_small_workspace_still_holds_files_out_but_keeps_one_to_train():
    train, heldout = split_by_path(["a.py", "b.py", "c.py"], 0.1)
    assert len(heldout) == MIN_HELDOUT_FILES and len(train) == 1
    assert heldout == sorted(["a.py", "b.py", "c.py"], key=split_point)[:2]
    assert split_by_path(["a.py", "b.py"], 0.1)[1] != []
    assert split_by_path(["only.py"], 0.1) == (["only.py"], [])
    assert split_by_path(PATHS, 0.0) == (sorted(PATHS), [])


@pytest.mark.parametrize("share", [-0.1, 1.0, 2.0])
def test_a_bad_share_is_refused(share: float):
    with pytest.raises(ValueError, match="heldout_share"):
        split_by_path(PATHS, share)
