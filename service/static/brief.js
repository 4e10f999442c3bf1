// The brief page: click an item (or one of its numbers) to highlight its evidence in the report
// text and bring it into view. Evidence pieces carry the keys they support in data-k.
"use strict";
(function () {
  const text = document.getElementById("report-text");
  const pane = document.querySelector(".report-pane");
  const status = document.getElementById("ev-status");
  if (!text) return;
  const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function clear() {
    text.querySelectorAll(".ev.hl").forEach((el) => el.classList.remove("hl"));
    document.querySelectorAll("[data-ev][aria-pressed=true]").forEach((el) => el.setAttribute("aria-pressed", "false"));
    document.querySelectorAll(".item.active").forEach((el) => el.classList.remove("active"));
  }

  function reveal(el) {
    const behavior = reduceMotion ? "auto" : "smooth";
    // Wide layout: only the report pane scrolls, so the brief beside it stays where it is.
    const paneScrolls = pane && getComputedStyle(pane).overflowY !== "visible" && pane.scrollHeight > pane.clientHeight;
    if (paneScrolls) {
      const top = el.getBoundingClientRect().top - pane.getBoundingClientRect().top + pane.scrollTop;
      pane.scrollTo({ top: Math.max(0, top - pane.clientHeight / 3), behavior: behavior });
    } else {
      el.scrollIntoView({ block: "center", behavior: behavior });
    }
  }

  function show(trigger) {
    const key = trigger.dataset.ev; // item keys are [a-z0-9] only: safe inside a selector
    clear();
    const marks = text.querySelectorAll('.ev[data-k~="' + key + '"]');
    marks.forEach((el) => el.classList.add("hl"));
    trigger.setAttribute("aria-pressed", "true");
    const item = trigger.closest(".item");
    if (item) item.classList.add("active");
    if (status) status.textContent = marks.length ? "已高亮依据" : "原文中未找到依据";
    if (marks.length) reveal(marks[0]);
  }

  document.addEventListener("click", (event) => {
    const target = event.target;
    if (!(target instanceof Element)) return;
    let trigger = target.closest("[data-ev]");
    if (!trigger) {
      const item = target.closest(".item");
      if (item) trigger = item.querySelector(".item-btn");
    }
    if (trigger) show(trigger);
  });
})();
