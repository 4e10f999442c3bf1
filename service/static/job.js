// The job page: follow the job's server-sent events; show each progress report; when the job has
// succeeded, go to the brief; when it has failed or was cancelled, reload (the page then says why,
// with a retry button).
(function () {
  "use strict";
  const root = document.getElementById("job");
  if (!root) return;
  const id = root.dataset.job;
  const STATUS = { queued: "排队中", running: "生成中", succeeded: "已完成", failed: "失败", cancelled: "已取消" };
  const set = (elementId, text) => {
    const el = document.getElementById(elementId);
    if (el) el.textContent = String(text);
  };
  const source = new EventSource("/v1/jobs/" + encodeURIComponent(id) + "/events");
  source.onmessage = (event) => {
    const job = JSON.parse(event.data);
    const p = job.progress;
    root.dataset.status = job.status;
    set("job-status", STATUS[job.status] || job.status);
    set("chunks-done", p.chunks_done);
    set("chunks-total", p.chunks_total || "?");
    set("calls", p.calls);
    set("tokens", p.prompt_tokens + p.completion_tokens);
    const bar = document.getElementById("job-progress");
    if (bar) {
      bar.max = Math.max(p.chunks_total, 1);
      bar.value = p.chunks_done;
    }
    if (job.status === "succeeded" && job.brief_id) {
      source.close();
      window.location.replace("/briefs/" + encodeURIComponent(job.brief_id));
    } else if (job.status === "failed" || job.status === "cancelled") {
      source.close();
      window.location.reload();
    }
  };
})();
