"""Running a chaos case as a test: the evidence is written first, then every problem fails it."""

from __future__ import annotations

import json

from dasan.pbx.container import PbxContainer
from tests.integration.chaos.harness import Case, run_case
from tests.integration.support import ItEnv


async def check_case(case: Case, env: ItEnv, pbx: PbxContainer) -> None:
    result = await run_case(case, env, pbx)
    summary = {
        k: result[k]
        for k in ("offered", "answered", "lost", "answered_after_fault", "resync_s", "notes")
    }
    details = json.dumps(
        {"summary": summary, "errors": result["engine_errors"], "lost": result["lost_calls"]},
        indent=1,
    )
    assert not result["problems"], "; ".join(result["problems"]) + "\n" + details
