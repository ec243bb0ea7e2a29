"""Check real requests and replies against the server's own ``/swagger.json``."""

from __future__ import annotations

from typing import Any

import httpx
from jsonschema import Draft7Validator


class Documented:
    """One fetched OpenAPI document and its JSON schemas by operation."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def _validator(self, schema: dict[str, Any]) -> Draft7Validator:
        return Draft7Validator({"allOf": [schema], "components": self.doc.get("components", {})})

    def request_fits(self, path: str, method: str, body: Any, content_type: str = "application/json") -> bool:
        content = self.doc["paths"][path][method]["requestBody"]["content"]
        return self._validator(content[content_type]["schema"]).is_valid(body)

    def check_reply(self, path: str, method: str, reply: httpx.Response) -> None:
        """The reply's status is documented for the operation, and a JSON body fits its schema."""
        responses = self.doc["paths"][path][method]["responses"]
        documented = responses.get(str(reply.status_code))
        assert documented is not None, (path, method, reply.status_code, reply.text[:300])
        ctype = reply.headers.get("content-type", "").split(";")[0]
        content = documented.get("content", {})
        assert ctype in content or not content, (path, reply.status_code, ctype, list(content))
        if ctype == "application/json" and ctype in content:
            errors = list(self._validator(content[ctype]["schema"]).iter_errors(reply.json()))
            assert not errors, (path, reply.status_code, reply.text[:300], [e.message for e in errors[:3]])
