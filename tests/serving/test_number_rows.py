"""The fast parse of /score and of MLflow's /invocations (encoding.number_rows): rows of plain numbers
go straight into an array; every other body takes the general path, so what a request gets back does
not depend on which path read it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import orjson
import pytest

from jupyter_mlops.appdir import resolve_models, write_app_dir
from jupyter_mlops.registry.models import ModelRegistry
from jupyter_mlops.serving import encoding, mlflow
from jupyter_mlops.serving.app import ScoringApp
from jupyter_mlops.serving.config import ServerConfig
from jupyter_mlops.serving.encoding import number_rows
from jupyter_mlops.serving.runtime import Runtime

from ..modelfactory import training_data
from .conftest import RunningServer


@pytest.mark.parametrize("body", [
    b'{"data": [[1.5, -2, 3e-3], [0, 1e10, -0.0]]}',
    b'{"note": "x", "data": [[1, 2]], "more": {"a": 1}}',
    b' {\n "data" : [ [ 7 ] , [ 8 ] ] } ',
])
def test_rows_of_numbers_are_read_as_numpy_reads_the_parsed_json(body: bytes) -> None:
    rows = number_rows(body, "data")
    assert rows is not None and rows.dtype == np.float64
    np.testing.assert_array_equal(rows, np.asarray(orjson.loads(body)["data"], dtype=np.float64))


@pytest.mark.parametrize("body", [
    b'{"data": [[1, null]]}',  # null
    b'{"data": [[1, "2"]]}',  # a numeric string
    b'{"data": [[1, true]]}',  # a boolean
    b'{"data": [[1, 2], [3]]}',  # ragged, and its numbers do not fill rows
    b'{"data": [[1, 2, 3], [4]]}',  # ragged, though 4 numbers would make 2 rows of 2
    b'{"data": [[[1, 2]], [[3, 4]]]}',  # deeper
    b'{"data": [[[], 1], [[2, 3], 4]]}',  # deeper, with rows of equal length and 4 numbers in all
    b'{"data": [[1, 2], 3]}',  # a row that is a number
    b'{"data": [1, 2, 3]}',  # one row without its batch dimension: the general path adds it
    b'{"data": []}', b'{"data": [[]]}',  # empty
    b'{"data": {"input": [[1, 2]]}}',  # inputs by name
    b'{"data": [[1, 2]], "note": "["}',  # a [ that is not the rows': the general path decides
    b'{"rows": [[1, 2]]}', b'[[1, 2]]', b'{"data": [[1, 2]]', b'{"data": [[1, 2e999]]}',  # no data; malformed
])
def test_anything_else_is_left_to_the_general_path(body: bytes) -> None:
    assert number_rows(body, "data") is None


def test_the_reused_parser_falls_back_while_an_earlier_parse_is_still_held() -> None:
    body = b'{"data": [[1, 2], [3, 4]]}'
    assert number_rows(body, "data") is not None and number_rows(body, "data") is not None  # one parser, reused
    held = encoding._parser().parse(b'{"data": [[5]]}')  # someone keeps an object of a parse
    assert number_rows(body, "data") is None  # simdjson refuses to parse again: the general path answers
    del held
    np.testing.assert_array_equal(number_rows(body, "data"), [[1, 2], [3, 4]])


def test_both_paths_answer_alike(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"])
    rows = training_data(20, rows=5, seed=9)[0].astype(np.float64).round(6).tolist()
    rows[0][0] = 3  # an integer among floats
    fast = orjson.dumps({"data": rows})
    slow = orjson.dumps({"data": rows, "note": "["})  # the general path (see above)
    assert number_rows(fast, "data") is not None and number_rows(slow, "data") is None
    answers = [httpx.post(f"{server.url}/score", content=b, headers={"content-type": "application/json"})
               for b in (fast, slow)]
    assert [a.status_code for a in answers] == [200, 200] and answers[0].content == answers[1].content
    # Values a float32 cannot hold are refused on the fast path as on the general one
    for body in (b'{"data": [[' + b", ".join([b"1e39"] * 20) + b"]]}",
                 b'{"data": [[' + b", ".join([b"1e39"] * 20) + b']], "note": "["}'):
        refused = httpx.post(f"{server.url}/score", content=body, headers={"content-type": "application/json"})
        assert refused.status_code == 400 and "out of range for float32" in refused.json()["message"]


def test_alone_asks_for_an_object_of_that_key_only() -> None:
    """MLflow's bodies hold exactly one of its forms: with another key beside it, the general path decides."""
    assert number_rows(b'{"inputs": [[1, 2]]}', "inputs", alone=True) is not None
    for body in (b'{"inputs": [[1, 2]], "params": {"k": 1}}', b'{"inputs": [[1, 2]], "dataframe_records": {}}'):
        assert number_rows(body, "inputs") is not None and number_rows(body, "inputs", alone=True) is None


@pytest.mark.parametrize("split", [
    {"columns": ["a", "b"], "data": [[1, 2.5], [3, -4]]},
    {"data": [[1, 2.5], [3, -4]]},
    {"columns": None, "data": [[1, 2.5], [3, -4]]},
    {"columns": ["a", "b"], "index": [7, 8], "data": [[1, 2.5], [3, -4]]},  # pandas' to_dict("split")
    {"columns": ["only one"], "data": [[1, 2.5], [3, -4]]},  # a single input takes the rows whatever the names
])
def test_dataframe_split_rows_are_read_as_numpy_reads_the_parsed_json(split: dict[str, object]) -> None:
    body = orjson.dumps({"dataframe_split": split})
    rows = encoding.split_rows(body)
    assert rows is not None
    np.testing.assert_array_equal(rows, np.asarray(split["data"], dtype=np.float64))


@pytest.mark.parametrize("body", [
    b'{"dataframe_split": {"columns": ["a", 1], "data": [[1, 2]]}}',  # a column name that is not a string
    b'{"dataframe_split": {"columns": "a,b", "data": [[1, 2]]}}',
    b'{"dataframe_split": {"columns": ["a[0]", "b"], "data": [[1, 2]]}}',  # a [ that is not an array
    b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}, "params": {}}',  # something beside it
    b'{"dataframe_split": {"columns": ["a", "b"], "data": [[[1], [2]]]}}',  # deeper
    b'{"dataframe_split": {"columns": ["a", "b"], "index": [[0, 1]], "data": [[1, 2]]}}',  # a deeper index
    b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, null]]}}',
    b'{"dataframe_split": {"columns": ["a", "b"]}}', b'{"dataframe_split": [[1, 2]]}',
])
def test_other_dataframe_splits_are_left_to_the_general_path(body: bytes) -> None:
    assert encoding.split_rows(body) is None


def test_mlflow_forms_take_the_fast_path_in_process(registry: ModelRegistry, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    app_dir = tmp_path / "inprocess"
    write_app_dir(registry.ws, resolve_models(registry.ws, ["lr"]), app_dir, None, port=0)
    runtime = Runtime(ServerConfig.load(str(app_dir / "server.json")))
    assert runtime.load()
    read: list[np.ndarray | None] = []

    def spy(parse: Callable[..., np.ndarray | None]) -> Callable[..., np.ndarray | None]:
        def parse_and_note(*args: object, **kwargs: object) -> np.ndarray | None:
            read.append(parse(*args, **kwargs))
            return read[-1]
        return parse_and_note

    monkeypatch.setattr(encoding, "number_rows", spy(encoding.number_rows))
    monkeypatch.setattr(encoding, "split_rows", spy(encoding.split_rows))
    rows = training_data(20, rows=3, seed=4)[0].astype(np.float64).round(6).tolist()

    async def post(body: dict[str, object]) -> httpx.Response:
        transport = httpx.ASGITransport(app=ScoringApp(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.post("/invocations", json=body)

    for body in ({"inputs": rows}, {"instances": rows}, {"dataframe_split": {"columns": list("abcdefghijklmnopqrst"),
                                                                            "data": rows}}):
        read.clear()
        answer = asyncio.run(post(body))
        assert answer.status_code == 200 and len(answer.json()["predictions"]["label"]) == 3
        assert len(read) == 1 and read[0] is not None and read[0].shape == (3, 20)  # read by simdjson, once


def test_mlflow_answers_alike_on_both_paths(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"])
    rows = training_data(20, rows=5, seed=9)[0].astype(np.float64).round(6).tolist()
    rows[1][2] = -4  # an integer among floats
    url, json_type = f"{server.url}/invocations", {"content-type": "application/json"}
    split = {"columns": [f"x{i}" for i in range(20)], "index": list(range(5)), "data": rows}
    for form, value in (("inputs", rows), ("instances", rows), ("dataframe_split", split)):
        fast = orjson.dumps({form: value})
        slow = orjson.dumps({form: value, "params": {}})  # MLflow's inference params: the general path
        assert mlflow._number_rows(fast) is not None and mlflow._number_rows(slow) is None
        answers = [httpx.post(url, content=b, headers=json_type) for b in (fast, slow)]
        assert [a.status_code for a in answers] == [200, 200] and answers[0].content == answers[1].content
    # Two of MLflow's forms, or a float32 overflow, are refused whichever path reads the body
    two = httpx.post(url, content=b'{"inputs": [[1, 2]], "dataframe_records": {}}', headers=json_type)
    assert two.status_code == 400 and "exactly one of" in two.json()["message"]
    huge = httpx.post(url, content=b'{"inputs": [[' + b", ".join([b"1e39"] * 20) + b"]]}", headers=json_type)
    assert huge.status_code == 400 and "out of range for float32" in huge.json()["message"]
