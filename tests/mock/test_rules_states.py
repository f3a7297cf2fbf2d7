"""State machines, computed columns and lifecycle rules, through the Web API of the mock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.settings import MockSettings

Create = Callable[[str, dict[str, Any]], str]


def get(api: ServiceRootSession, path: str) -> dict[str, Any]:
    response = api.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def error_of(response: Any, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    error: dict[str, str] = response.json()["error"]
    return error


# ----------------------------------------------------------------- defaults and inference

def test_create_without_state_gets_open_and_default_status(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    row = get(api, f"leads({lead})?$select=statecode,statuscode")
    assert (row["statecode"], row["statuscode"]) == (0, 1)


def test_create_with_only_statecode_gets_that_states_default_status(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s", "statecode": 2})
    row = get(api, f"leads({lead})?$select=statecode,statuscode")
    assert (row["statecode"], row["statuscode"]) == (2, 4)


def test_create_with_only_statuscode_infers_state(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s", "statuscode": 6})
    row = get(api, f"leads({lead})?$select=statecode,statuscode")
    assert (row["statecode"], row["statuscode"]) == (2, 6)


def test_patch_with_only_statecode_sets_default_status(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s"})
    assert api.patch(f"leads({lead})", json={"statecode": 2}).status_code == 204
    row = get(api, f"leads({lead})?$select=statecode,statuscode")
    assert (row["statecode"], row["statuscode"]) == (2, 4)


def test_patch_with_only_statuscode_infers_state(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s"})
    assert api.patch(f"leads({lead})", json={"statuscode": 5}).status_code == 204
    row = get(api, f"leads({lead})?$select=statecode,statuscode")
    assert (row["statecode"], row["statuscode"]) == (2, 5)


def test_status_not_in_state_is_refused_with_the_service_message(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s"})
    response = api.patch(f"leads({lead})", json={"statecode": 1, "statuscode": 4})
    error = error_of(response, 400)
    assert error["message"] == (
        f"4 is not a valid status code for state code LeadState.Qualified on lead with Id {lead}.")
    assert error["code"] == "0x8004431a"
    row = get(api, f"leads({lead})?$select=statecode,statuscode")
    assert (row["statecode"], row["statuscode"]) == (0, 1)


def test_status_not_in_state_on_opportunity_names_its_state_enum(api: ServiceRootSession, create: Create) -> None:
    opportunity = create("opportunities", {"name": "o"})
    response = api.patch(f"opportunities({opportunity})", json={"statuscode": 3})
    # Only statuscode 3 sent: it belongs to Won, so with inference on the state follows the
    # status, which is a close by PATCH -- refused and pointing to the message.
    assert "WinOpportunity" in error_of(response, 400)["message"]
    response = api.patch(f"opportunities({opportunity})", json={"statecode": 2, "statuscode": 2})
    assert error_of(response, 400)["message"] == (
        f"2 is not a valid status code for state code OpportunityState.Lost on opportunity with Id {opportunity}.")


def test_both_codes_sent_are_validated_as_sent(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s"})
    response = api.patch(f"leads({lead})", json={"statecode": 0, "statuscode": 4})
    assert error_of(response, 400)["message"] == (
        f"4 is not a valid status code for state code LeadState.Open on lead with Id {lead}.")
    opportunity = create("opportunities", {"name": "o"})
    response = api.patch(f"opportunities({opportunity})", json={"statecode": 0, "statuscode": 3})
    assert error_of(response, 400)["message"] == (
        f"3 is not a valid status code for state code OpportunityState.Open on opportunity with Id {opportunity}.")


def test_both_codes_sent_on_create_are_validated(api: ServiceRootSession) -> None:
    response = api.post("leads", json={"subject": "s", "statecode": 0, "statuscode": 6})
    assert "is not a valid status code for state code LeadState.Open" in error_of(response, 400)["message"]


def test_unknown_state_is_refused(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s"})
    response = api.patch(f"leads({lead})", json={"statecode": 9})
    assert response.status_code == 400


class TestWithoutInference:
    @pytest.fixture
    def mock_settings(self) -> MockSettings:
        return MockSettings.model_validate({"infer_state_from_status": False})

    def test_only_statuscode_of_another_state_is_refused(self, api: ServiceRootSession, create: Create) -> None:
        lead = create("leads", {"subject": "s"})
        response = api.patch(f"leads({lead})", json={"statuscode": 6})
        assert error_of(response, 400)["message"] == (
            f"6 is not a valid status code for state code LeadState.Open on lead with Id {lead}.")


# ----------------------------------------------------------------- activities

def test_phonecall_state_on_create_is_ignored_by_default(api: ServiceRootSession, create: Create) -> None:
    call = create("phonecalls", {"subject": "call", "statecode": 1, "statuscode": 2})
    row = get(api, f"phonecalls({call})?$select=statecode,statuscode")
    assert (row["statecode"], row["statuscode"]) == (0, 1)


class TestActivityStateRejected:
    @pytest.fixture
    def mock_settings(self) -> MockSettings:
        return MockSettings.model_validate({"activity_state_on_create": "reject"})

    def test_phonecall_state_on_create_is_refused(self, api: ServiceRootSession) -> None:
        response = api.post("phonecalls", json={"subject": "call", "statecode": 1})
        assert "not valid for create" in error_of(response, 400)["message"]
        assert api.get("phonecalls?$select=subject").json()["value"] == []

    def test_explicit_open_state_is_refused_too(self, api: ServiceRootSession) -> None:
        response = api.post("phonecalls", json={"subject": "call", "statecode": 0})
        assert response.status_code == 400

    def test_phonecall_without_state_is_created_open(self, api: ServiceRootSession, create: Create) -> None:
        call = create("phonecalls", {"subject": "call"})
        assert get(api, f"phonecalls({call})?$select=statecode")["statecode"] == 0


def test_completing_a_phonecall_stamps_actualend(api: ServiceRootSession, create: Create) -> None:
    call = create("phonecalls", {"subject": "call"})
    assert get(api, f"phonecalls({call})?$select=actualend")["actualend"] is None
    assert api.patch(f"phonecalls({call})", json={"statecode": 1, "statuscode": 2}).status_code == 204
    row = get(api, f"phonecalls({call})?$select=actualend,statecode,statuscode")
    assert (row["statecode"], row["statuscode"]) == (1, 2)
    assert row["actualend"].endswith("Z")


def test_completing_a_phonecall_keeps_a_given_actualend(api: ServiceRootSession, create: Create) -> None:
    call = create("phonecalls", {"subject": "call"})
    api.patch(f"phonecalls({call})", json={"statecode": 1, "statuscode": 4, "actualend": "2026-03-01T10:00:00Z"})
    assert get(api, f"phonecalls({call})?$select=actualend")["actualend"] == "2026-03-01T10:00:00Z"


# ----------------------------------------------------------------- computed columns

def test_fullname_is_composed_on_create_and_update(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s", "firstname": "Jon", "lastname": "Doe"})
    assert get(api, f"leads({lead})?$select=fullname")["fullname"] == "Jon Doe"
    api.patch(f"leads({lead})", json={"firstname": None})
    assert get(api, f"leads({lead})?$select=fullname")["fullname"] == "Doe"
    contact = create("contacts", {"firstname": "Ann", "lastname": "Lee"})
    assert get(api, f"contacts({contact})?$select=fullname")["fullname"] == "Ann Lee"


# ----------------------------------------------------------------- closing by PATCH

def test_opportunity_close_by_patch_is_refused_by_default(api: ServiceRootSession, create: Create) -> None:
    opportunity = create("opportunities", {"name": "o"})
    error = error_of(api.patch(f"opportunities({opportunity})", json={"statecode": 1, "statuscode": 3}), 400)
    assert "WinOpportunity" in error["message"]
    error = error_of(api.patch(f"opportunities({opportunity})", json={"statecode": 2}), 400)
    assert "LoseOpportunity" in error["message"]
    assert get(api, f"opportunities({opportunity})?$select=statecode")["statecode"] == 0


class TestOpportunityCloseByPatchAllowed:
    @pytest.fixture
    def mock_settings(self) -> MockSettings:
        return MockSettings.model_validate({"opportunity_close_by_patch": "allow"})

    def test_patch_closes(self, api: ServiceRootSession, create: Create) -> None:
        opportunity = create("opportunities", {"name": "o"})
        assert api.patch(f"opportunities({opportunity})", json={"statecode": 1}).status_code == 204
        row = get(api, f"opportunities({opportunity})?$select=statecode,statuscode")
        assert (row["statecode"], row["statuscode"]) == (1, 3)


def test_lead_qualify_by_patch_is_allowed_by_default(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s"})
    assert api.patch(f"leads({lead})", json={"statecode": 1, "statuscode": 3}).status_code == 204
    assert api.get("opportunities?$select=name").json()["value"] == []


class TestLeadQualifyByPatchRejected:
    @pytest.fixture
    def mock_settings(self) -> MockSettings:
        return MockSettings.model_validate({"lead_qualify_by_patch": "reject"})

    def test_patch_is_refused_but_disqualify_works(self, api: ServiceRootSession, create: Create) -> None:
        lead = create("leads", {"subject": "s"})
        assert "QualifyLead" in error_of(api.patch(f"leads({lead})", json={"statecode": 1}), 400)["message"]
        assert api.patch(f"leads({lead})", json={"statecode": 2, "statuscode": 6}).status_code == 204


# ----------------------------------------------------------------- closed records

def test_closed_lead_accepts_field_updates_by_default(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s"})
    api.patch(f"leads({lead})", json={"statecode": 2, "statuscode": 4})
    assert api.patch(f"leads({lead})", json={"jobtitle": "Buyer"}).status_code == 204


class TestClosedRecordUpdatesRejected:
    @pytest.fixture
    def mock_settings(self) -> MockSettings:
        return MockSettings.model_validate({"closed_record_updates": "reject"})

    def test_field_update_on_closed_lead_is_refused_until_reactivated(
            self, api: ServiceRootSession, create: Create) -> None:
        lead = create("leads", {"subject": "s"})
        api.patch(f"leads({lead})", json={"statecode": 2, "statuscode": 4})
        error = error_of(api.patch(f"leads({lead})", json={"jobtitle": "Buyer"}), 400)
        assert "closed" in error["message"] and "jobtitle" in error["message"]
        # changing the reason within the closed state is not a field update
        assert api.patch(f"leads({lead})", json={"statuscode": 6}).status_code == 204
        reactivate = {"statecode": 0, "statuscode": 1, "jobtitle": "Buyer"}
        assert api.patch(f"leads({lead})", json=reactivate).status_code == 204
        assert get(api, f"leads({lead})?$select=jobtitle")["jobtitle"] == "Buyer"

    def test_completed_phonecall_is_read_only(self, api: ServiceRootSession, create: Create) -> None:
        call = create("phonecalls", {"subject": "call"})
        api.patch(f"phonecalls({call})", json={"statecode": 1, "statuscode": 2})
        assert api.patch(f"phonecalls({call})", json={"subject": "other"}).status_code == 400
