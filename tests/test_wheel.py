"""A normal (non-editable) install works: build the wheel, install it into a fresh virtualenv, and
brief a report through the openai backend against a stand-in server.

Offline by construction: the wheel is built without build isolation (setuptools from this venv),
installed with `--no-index --no-deps`, and the fresh venv sees the dependencies through a `.pth`
line naming this venv's site-packages. A path added by a `.pth` line does not run that folder's own
`.pth` files, so the editable install of the checkout stays invisible: `service` can only come
from the wheel (the test checks it does).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from fake_openai import STAND_INS, FakeOpenAI

ROOT = Path(__file__).resolve().parents[1]
_NOT_SOURCE = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
)


@pytest.mark.slow
def test_the_wheel_installs_and_briefs_through_the_openai_backend(tmp_path: Path) -> None:
    # Built from a copy: setuptools writes build/ into the tree it builds, and a stale build/ would
    # put files in the wheel that the checkout no longer has.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(source),
        ],
        check=True,
        cwd=tmp_path,
        timeout=600,
    )
    [wheel] = dist.glob("govbrief-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert (
        "service/prompt_files/extract/v1.toml" in names and "service/prompt_files/overview/v1.toml" in names
    )

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(wheel)],
        check=True,
        cwd=tmp_path,
        timeout=300,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "deps-from-test-venv.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )

    where = subprocess.run(
        [str(python), "-c", "import service; print(service.__file__, service.__version__)"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    assert where.startswith(site) and where.split()[1] == "0.1.0", where

    report = ROOT / "service" / "samples" / "qinghe_2023.txt"
    with FakeOpenAI() as fake:
        fake.route("POST", "/v1/chat/completions", STAND_INS["deepseek"])
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GOVBRIEF_")},
            "GOVBRIEF_LLM_BASE_URL": fake.base_url,
            "GOVBRIEF_LLM_MODEL": "deepseek-chat",
            "GOVBRIEF_LLM_PROVIDER": "deepseek",
            "GOVBRIEF_CACHE_DIR": str(tmp_path / "cache"),
        }
        done = subprocess.run(
            [str(venv / "bin" / "govbrief"), "summarize", str(report), "-b", "openai"],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    brief = json.loads(done.stdout)
    assert brief["problems"] and brief["provenance"]["backend"] == "openai"
    assert brief["provenance"]["structured_output"] == "json_object"
    assert brief["provenance"]["prompt_id"] == "extract"
