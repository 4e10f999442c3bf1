"""`govbrief`: the command line, a thin edge over service.pipeline.

Each subcommand lives in its own module and registers itself on `app` here.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="govbrief",
    help="Grounded briefs of Chinese annual rule-of-law government reports (法治政府建设年度报告): "
    "achievements, problems and next-year plans, each cited to the sentence that states it.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root() -> None:
    """Grounded briefs of 法治政府建设年度报告. Run `govbrief COMMAND --help` for each command."""


from service.cli import serve as _serve  # noqa: E402
from service.cli import summarize as _summarize  # noqa: E402

app.command("summarize")(_summarize.summarize)
app.command("serve")(_serve.serve)

from service.cli import batch as _batch  # noqa: E402

app.command("batch")(_batch.batch)
app.command("compare")(_batch.compare)

from service.cli import doctor as _doctor  # noqa: E402
from service.cli import evals as _evals  # noqa: E402

app.command("doctor")(_doctor.doctor)

app.add_typer(_evals.eval_app, name="eval")


def main() -> None:
    app()
