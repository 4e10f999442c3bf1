"""`govbrief eval --judge`: an LLM checks what the scorer cannot — whether each item's title and
summary say what its cited sentences say.

The scorer knows whether an item cites the right sentence, not whether its title and summary are
faithful to it. The judge asks the configured endpoint, with its own versioned prompt
(`service/prompt_files/judge/`), for a verdict per item. Verdicts are recorded per item (`ReportRecord.judged`)
and summarised beside the scores; they never change a score. A batch the judge cannot answer
leaves its items without a verdict (None), and the run goes on.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from pydantic import BaseModel, ValidationError

from service.errors import ConfigError, LLMError
from service.evals.record import Judged, ReportRecord
from service.extract import AnswerFormatError, extract_json
from service.llm.client import ChatClient, ChatRequest, ChatResponse, OpenAIChatClient
from service.llm.transport import RetryBudget, RetryPolicy, Transport
from service.models import SECTION_NAMES
from service.prompts import Prompt, load_prompt
from service.settings import Settings

PROMPT_ID = "judge"
#: Items per request: enough to judge a report in a few calls, few enough to answer in full.
BATCH = 20
MAX_TOKENS = 2048


class _Verdict(BaseModel):
    n: int
    faithful: bool
    reason: str = ""


class _Answer(BaseModel):
    verdicts: list[_Verdict]


def parse_verdicts(content: str) -> dict[int, _Verdict]:
    value = extract_json(content)
    if isinstance(value, list):
        value = {"verdicts": value}
    try:
        return {v.n: v for v in _Answer.model_validate(value).verdicts}
    except ValidationError as exc:
        raise AnswerFormatError(f"judge answer has the wrong shape: {exc.errors()[0]['msg']}") from None


class Judge:
    def __init__(self, client: ChatClient, transport: Transport, prompt: Prompt, model: str) -> None:
        self.client = client
        self.transport = transport
        self.prompt = prompt
        self.model = model

    @classmethod
    def from_settings(cls, settings: Settings, *, client: ChatClient | None = None) -> Judge:
        if not settings.llm_model:
            raise ConfigError("the judge needs a model: set GOVBRIEF_LLM_MODEL")
        transport = Transport(
            RetryPolicy.from_settings(settings),
            threading.BoundedSemaphore(settings.llm_concurrency),
            RetryBudget.from_settings(settings),
        )
        # A prompts folder without a judge (one holding only the prompt being tuned) falls back
        # to the packaged judge.
        prompt = load_prompt(PROMPT_ID, None, settings.prompts_dir)
        return cls(client or OpenAIChatClient.from_settings(settings), transport, prompt, settings.llm_model)

    def request(self, items: list[dict[str, Any]]) -> ChatRequest:
        rendered = self.prompt.render(items=items)
        return ChatRequest(
            model=self.model,
            messages=[
                {"role": "system", "content": rendered.system},
                {"role": "user", "content": rendered.user},
            ],
            temperature=0.0,
            max_tokens=MAX_TOKENS,
        )

    def judge_report(self, record: ReportRecord) -> list[Judged]:
        """A verdict per item of the report (None where the judge gave none). The items carry
        their evidence quotes, exact by construction, so the report text is not needed."""
        listed = [
            (str(section), i, item)
            for section in SECTION_NAMES
            for i, item in enumerate(record.items.get(section, []))
        ]
        out: list[Judged] = []
        for start in range(0, len(listed), BATCH):
            batch = listed[start : start + BATCH]
            items = [
                {
                    "n": k + 1,
                    "section": section,
                    "title": item.title,
                    "summary": item.summary,
                    "evidence": [s.quote for s in item.evidence],
                }
                for k, (section, _, item) in enumerate(batch)
            ]
            request = self.request(items)
            try:
                response = self.transport.call(
                    functools.partial(self._complete, request), describe=f"judge {record.id}"
                )
                verdicts = parse_verdicts(response.content)
                failure = ""
            except (LLMError, AnswerFormatError) as exc:
                verdicts, failure = {}, self.client.redact(str(exc))[:200]
            for k, (section, i, _) in enumerate(batch):
                v = verdicts.get(k + 1)
                if v is None:
                    out.append(Judged(section=section, item=i, faithful=None, reason=failure or "no verdict"))
                else:
                    out.append(Judged(section=section, item=i, faithful=v.faithful, reason=v.reason))
        return out

    def _complete(self, request: ChatRequest, timeout: float) -> ChatResponse:
        return self.client.complete(request, timeout=timeout)
