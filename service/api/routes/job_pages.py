"""The job page: where the web form lands when a brief is made in the background (LLM uploads).
It shows the progress live (server-sent events, `static/job.js`), turns into the brief when the job
succeeds, and says in Chinese why it failed, with a button to try again."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from service.api.auth import caller
from service.api.deps import Authorized, StoreDep
from service.api.routes.jobs import job_json, visible_job
from service.api.templating import error_page, page
from service.jobs import new_id
from service.storage.base import ErrorKind, Job, JobStatus, NewJob

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse, include_in_schema=False)

STATUS_ZH = {
    JobStatus.queued: "排队中",
    JobStatus.running: "生成中",
    JobStatus.succeeded: "已完成",
    JobStatus.failed: "失败",
    JobStatus.cancelled: "已取消",
}


def error_zh(job: Job) -> str | None:
    """Why the job did not end in a brief, for people."""
    if job.status is JobStatus.cancelled:
        return "任务已取消。"
    if job.status is not JobStatus.failed:
        return None
    if job.error_kind is ErrorKind.input:
        return f"这份文件无法生成简报：{job.error}"
    if job.error_kind is ErrorKind.backend:
        return "大模型未能生成简报（服务可能繁忙或暂时不可用）。请稍后重试，或改用规则方式。"
    if job.error_kind is ErrorKind.config:
        return f"服务器无法使用所选的提取方式：{job.error}"
    return "处理过程中出现内部错误，请重试。"


@router.get("/jobs/{job_id}", dependencies=[Authorized])
async def job_page(job_id: str, request: Request, store: StoreDep) -> Response:
    try:
        job = await visible_job(request, store, job_id)
    except HTTPException:
        return error_page(404, "没有找到这个任务（链接可能有误）。")
    if job.status is JobStatus.succeeded and job.brief_id:
        return RedirectResponse(f"/briefs/{job.brief_id}", status_code=303)
    context: dict[str, Any] = {
        "job": job_json(job),
        "status_zh": STATUS_ZH[job.status],
        "error_zh": error_zh(job),
        "done": job.status.done,
    }
    return page("job.html", **context)


@router.post("/jobs/{job_id}/retry", dependencies=[Authorized])
async def retry(job_id: str, request: Request, store: StoreDep) -> Response:
    """The same report, as a new job (the answers the failed one got are cached)."""
    try:
        job = await visible_job(request, store, job_id)
    except HTTPException:
        return error_page(404, "没有找到这个任务（链接可能有误）。")
    data = await run_in_threadpool(store.job_input, job.id)
    if data is None:
        return error_page(404, "这个任务的报告已不在，请重新上传。")
    again = NewJob(new_id(), data, job.filename, job.backend, job.with_text, caller(request))
    stored = await run_in_threadpool(store.add_job, again, now=time.time())
    request.app.state.workers.notify()
    return RedirectResponse(f"/jobs/{stored.id}", status_code=303)
