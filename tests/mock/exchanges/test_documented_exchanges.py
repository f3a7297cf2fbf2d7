"""Microsoft's documented Web API exchanges, each replayed against the mock as a test of its own.

The exchanges are the YAML files of this folder (see :mod:`replay` for their format): the
request of each step is sent as the page writes it, after the steps before it, and the
answer is compared with the page's response (status, key headers, body shape and
annotations; ids, ETags and dates masked).
"""

from __future__ import annotations

import pytest

from d365lab.mock.inprocess import ServiceRootSession

from .replay import Replay, capture, check, load_pages, missing_requirements, send

_CASES = [(page, index) for page in load_pages() for index, step in enumerate(page.steps) if not step.get("setup")]


@pytest.mark.parametrize(("page", "index"), _CASES, ids=[f"{p.name}-{p.steps[i]['name']}" for p, i in _CASES])
def test_documented_exchange(api: ServiceRootSession, page: object, index: int) -> None:
    from .replay import Page

    assert isinstance(page, Page)
    step = page.steps[index]
    missing = missing_requirements(step)
    if missing:
        pytest.skip(f"the mock's schema lacks {', '.join(missing)}")
    replay = Replay(api.service_root)
    for earlier in page.steps[:index]:
        if missing_requirements(earlier):
            continue
        response = send(api, replay, earlier)
        assert response.status_code == earlier["response"]["status"], (
            f"earlier step {earlier['name']} answered {response.status_code}: {response.text[:300]}")
        capture(replay, earlier, response)
    response = send(api, replay, step)
    problems = check(replay, step, response)
    assert not problems, f"{page.name} / {step['name']}:\n  " + "\n  ".join(problems)
    capture(replay, step, response)
