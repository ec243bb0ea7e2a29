"""/score's fast parse (encoding.number_rows): rows of plain numbers go straight into an array; every
other body takes the general path, so what a request gets back does not depend on which path read it."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import numpy as np
import orjson
import pytest

from jupyter_mlops.serving import encoding
from jupyter_mlops.serving.encoding import number_rows

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
