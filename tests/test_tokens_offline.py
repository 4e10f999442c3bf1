"""tiktoken works with no network: the encoding ships inside a package, nothing is downloaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from service import tokens

SAMPLE = "法治政府建设年度报告：废止涉企规范性文件28件。"

# Runs in a fresh interpreter so that no encoding is cached in memory (tokens.encoding is an
# lru_cache) and nothing was loaded before the sockets were blocked.
_SCRIPT = r"""
import json, socket, sys

def refuse(*args, **kwargs):
    raise OSError("network disabled by test_tokens_offline")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

import tiktoken
from service import tokens

result = {"count": tokens.count(sys.argv[1]), "encoding": tokens.encoding().name}
# Proof that the sandbox bites: an encoding that must be downloaded cannot be had.
try:
    tiktoken.get_encoding("cl100k_base").encode("x")
    result["download"] = "succeeded"
except Exception as e:
    result["download"] = type(e).__name__
print(json.dumps(result))
"""


def test_token_counts_need_no_network(tmp_path: Path) -> None:
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    env = {
        **os.environ,
        "TIKTOKEN_CACHE_DIR": str(cache),
        "DATA_GYM_CACHE_DIR": str(cache),
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, SAMPLE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["download"] != "succeeded"
    assert result["encoding"] == tokens.ENCODING_NAME
    # The same count as in this process, and a plausible one for 23 CJK characters and a number.
    assert result["count"] == tokens.count(SAMPLE)
    assert 10 <= result["count"] <= 60


def test_counts_are_additive_enough_for_budgets() -> None:
    assert tokens.count("") == 0
    one, two = tokens.count("全面推进依法行政。"), tokens.count("全面推进依法行政。" * 2)
    assert 0 < one < two <= 2 * one + 1
    # Special-token text in a report must not raise.
    assert tokens.count("<|endoftext|>") > 0
