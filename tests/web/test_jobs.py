from __future__ import annotations

from mobilise.core.db import session_scope
from mobilise.core.progress import JobProgress
from tests.web.conftest import Web


def test_job_progress_is_visible_live(web: Web) -> None:
    with session_scope(web.settings) as s:
        progress = JobProgress(s, "scan")
        progress.start(200, "Scanning H: drives")
        for _ in range(50):
            progress.advance(1, files=10)
        progress._flush()
        job_id = progress.job.id if progress.job else 0
    body = web.client.get("/api/v1/jobs?active=true", headers=web.as_("viewer")).json()
    [job] = body["items"]
    assert job["id"] == job_id and job["done"] == 50 and job["total"] == 200
    assert job["percent"] == 25.0 and job["stats"] == {"files": 10}
    assert web.client.get(f"/api/v1/jobs/{job_id}", headers=web.as_("viewer")).json() == job
    web.login("viewer")
    page = web.client.get("/jobs")
    assert "Scanning H: drives" in page.text and 'value="50"' in page.text
    with session_scope(web.settings) as s:
        done = JobProgress(s, "scan")
        done.job = s.get(type(progress.job), job_id)
        done.finish("all scanned")
    body = web.client.get("/api/v1/jobs?active=true", headers=web.as_("viewer")).json()
    assert body["items"] == []
    assert web.client.get("/api/v1/jobs/99999", headers=web.as_("viewer")).status_code == 404
