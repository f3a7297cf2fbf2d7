"""Bearer-token authentication of the mock tenant."""

from __future__ import annotations

import pytest
import requests

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.settings import MockSettings

from .conftest import BASE_URL, SERVICE_ROOT

CHALLENGE = (f"Bearer authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize, "
             f"resource_id={BASE_URL}/")


@pytest.fixture
def mock_settings() -> MockSettings:
    return MockSettings.model_validate({"token": "the-right-token"})


def test_right_token_is_accepted(api: ServiceRootSession) -> None:
    assert api.get("WhoAmI").status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic dXNlcjpwYXNz", "Bearer "])
def test_missing_or_wrong_token_is_401_with_challenge(api: ServiceRootSession, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = requests.get(SERVICE_ROOT + "WhoAmI", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert response.json()["error"]["code"] == "0x80048306"
    assert response.headers["OData-Version"] == "4.0"


def test_unauthenticated_writes_do_nothing(api: ServiceRootSession) -> None:
    requests.post(SERVICE_ROOT + "leads", json={"subject": "sneaky"}, headers={"Authorization": "Bearer no"})
    assert api.get("leads/$count").text == "0"


def test_without_a_configured_token_any_bearer_is_accepted(mock_settings: MockSettings,
                                                           api: ServiceRootSession) -> None:
    mock_settings.token = None
    assert requests.get(SERVICE_ROOT + "WhoAmI", headers={"Authorization": "Bearer anything"}).status_code == 200
    assert requests.get(SERVICE_ROOT + "WhoAmI").status_code == 401
