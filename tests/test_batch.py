"""Batch solving: solve_many on a Dask cluster matches serial results; failures stay local."""

from __future__ import annotations

import json

import numpy as np
import pytest

from optbox.cli import main
from problems import LinearSystem, OptimalTransport
from solvers import Status, solve_many

from .conftest import INSTANCES

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
            Client(lc) as client:
        yield lc, client


def test_dask_executor_matches_serial(cluster, tmp_path):
    _, client = cluster
    problems = [OptimalTransport.random(20, seed=s, reg=0.1) for s in range(4)]
    problems.append(LinearSystem.poisson((12, 12), seed=1))
    bad = tmp_path / "broken.vrp"
    bad.write_text("not a vrp file")
    items = problems + [str(bad)]
    serial = solve_many(items, workers=1, seed=0)
    remote = solve_many(items, executor=client.get_executor(), seed=0)
    assert len(remote) == len(items)
    for s, r in zip(serial[:-1], remote[:-1]):
        assert s.status == r.status and s.status.has_solution
        np.testing.assert_allclose(s.solution, r.solution, rtol=1e-12, atol=1e-15)
    assert remote[-1].status == Status.ERROR and "broken.vrp" in remote[-1].message


def test_cli_scheduler_flag(cluster, tmp_path, capsys):
    lc, _ = cluster
    out = tmp_path / "r.json"
    files = [str(INSTANCES / "poisson12.mtx"), str(INSTANCES / "ot_random60.npz")]
    code = main(["solve", *files, "--scheduler", lc.scheduler_address, "-q", "-o", str(out)])
    capsys.readouterr()
    assert code == 0
    data = json.loads(out.read_text())
    assert [d["problem"] for d in data] == ["poisson12.mtx", "ot_random60.npz"]
    assert all(d["status"] in ("optimal", "converged") for d in data)
