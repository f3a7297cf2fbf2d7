"""A running mock tenant as third-party clients see it, and a plain-HTTP reader that checks
outcomes independently of the client under test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

SERVICE_PATH = "/api/data/v9.2"


@dataclass(frozen=True)
class MockEndpoint:
    """A running mock tenant as a third-party client sees it: a URL and a bearer token."""

    base_url: str
    token: str

    @property
    def service_root(self) -> str:
        """``http://127.0.0.1:<port>/api/data/v9.2``."""
        return self.base_url.rstrip("/") + SERVICE_PATH

    def get(self, path: str, params: dict[str, str] | None = None) -> requests.Response:
        """GET a service-relative path (``leads(<id>)``) with the standard OData headers."""
        return requests.get(
            f"{self.service_root}/{path.lstrip('/')}",
            params=params,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/json",
                "OData-MaxVersion": "4.0",
                "OData-Version": "4.0",
            },
            timeout=30,
        )

    def read(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """GET and return the JSON body; fails the test unless the answer is 200."""
        response = self.get(path, params)
        assert response.status_code == 200, f"GET {path} -> {response.status_code}: {response.text[:300]}"
        body = response.json()
        assert isinstance(body, dict)
        return body

    def rows(self, entity_set: str, filter_: str, select: str) -> list[dict[str, Any]]:
        """The rows of ``entity_set`` matching an OData filter."""
        value = self.read(entity_set, {"$filter": filter_, "$select": select})["value"]
        assert isinstance(value, list)
        return value
