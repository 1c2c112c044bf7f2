"""ftcore.data.sharding: disjoint, covering, deterministic shards; TF_CONFIG read for them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftcore.data import shard, worker_from_tf_config
from ftcore.errors import EmptyDataError, InvalidFileError


@given(st.integers(1, 60), st.integers(1, 6))
def test_shards_are_disjoint_cover_and_repeat(n, workers):
    items = [f"f{i}" for i in range(n)]
    if n < workers:
        with pytest.raises(EmptyDataError, match=rf"^{n} files cannot be sharded across {workers}"):
            shard(items, workers, 0)
        return
    shards = [shard(items, workers, i) for i in range(workers)]
    assert sorted(sum(shards, [])) == sorted(items)
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    assert shards == [shard(items, workers, i) for i in range(workers)]
    assert shards[0][0] == "f0"


@pytest.mark.parametrize(
    ("workers", "index", "message"),
    [
        (0, 0, r"num_workers must be a positive integer, got 0"),
        (2.0, 0, r"num_workers must be a positive integer, got 2.0"),
        (True, 0, r"num_workers must be a positive integer, got True"),
        (2, 2, r"worker_index must be in \[0, 2\), got 2"),
        (2, -1, r"worker_index must be in \[0, 2\), got -1"),
        (2, "1", r"worker_index must be an integer, got '1'"),
    ],
)
def test_bad_worker_numbers(workers, index, message):
    with pytest.raises(ValueError, match=message):
        shard(list(range(10)), workers, index)


def _config(task_type, index, chief=True, workers=2):
    cluster = {"worker": [f"localhost:{2000 + i}" for i in range(workers)]}
    if chief:
        cluster["chief"] = ["localhost:1999"]
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


def test_tf_config_gives_the_worker(monkeypatch):
    assert worker_from_tf_config(_config("chief", 0)) == (3, 0)
    assert worker_from_tf_config(_config("worker", 1)) == (3, 2)
    assert worker_from_tf_config(_config("worker", 1, chief=False)) == (2, 1)
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert worker_from_tf_config() == (1, 0)
    monkeypatch.setenv("TF_CONFIG", _config("worker", 0, chief=False))
    assert worker_from_tf_config() == (2, 0)
    with pytest.raises(InvalidFileError, match=r"TF_CONFIG is not valid cluster JSON"):
        worker_from_tf_config("{")
    with pytest.raises(InvalidFileError, match=r"task type 'ps' reads no data"):
        worker_from_tf_config(_config("ps", 0))
