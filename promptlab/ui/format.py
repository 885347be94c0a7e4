"""Small pieces every tab uses: readable errors, widget <-> engine conversions, and result formatting."""

from __future__ import annotations

import functools
import html
import logging
import math
import re
import string

import gradio as gr
import pandas as pd

from promptlab.scoring.compare import shorten
from promptlab.scoring.metrics import headline
from promptlab.ui.i18n import language_of, say, t

log = logging.getLogger("promptlab.ui")

# Errors a user can act on: the engine raises ValueError with a message that says what to fix.
USER_ERRORS = (ValueError, FileNotFoundError, KeyError, LookupError)


def guarded(action_key: str):
    """Turn a handler's exceptions into a readable toast ("Could not score: <engine message>"), never a traceback,
    in the page's language (an engine message carries its key and parameters: `i18n.say`). Toasts render HTML, and
    engine messages quote data and file names: the message is shown as text.

    By convention the page language is the handler's last string input (gradio may append a gr.Progress).
    """

    def wrap(fn):
        @functools.wraps(fn)
        def handler(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except gr.Error:
                raise
            except USER_ERRORS as error:
                lang = _language(args)
                raise gr.Error(html_text(f"{t(action_key, lang)}: {say(error, lang)}"), title=t("error.title", lang),
                               print_exception=False) from None
            except Exception as error:  # a bug: keep the traceback in the server log, show one line
                log.exception("handler %s failed", fn.__name__)
                lang = _language(args)
                raise gr.Error(html_text(f"{t(action_key, lang)}: {type(error).__name__}: {error}"),
                               title=t("error.title", lang), print_exception=False) from None

        return handler

    return wrap


def _language(args) -> str:
    return language_of(next((a for a in reversed(args) if isinstance(a, str)), None))


def info(message: str, lang: str) -> None:
    """A toast that says something went as asked, titled in the page's language (gradio's own title is "Info")."""
    gr.Info(html_text(message), title=t("info.title", lang))


def warning(message: str, lang: str) -> None:
    """A toast that warns, titled in the page's language."""
    gr.Warning(html_text(message), title=t("warning.title", lang))


def track(progress: gr.Progress, desc: str):
    """An engine progress callback `(done, total)` that drives a gradio progress bar."""

    def report(done: int, total: int) -> None:
        progress((done, total), desc=desc)

    return report


# ---- outside text shown as text ----
# Dataset cells, column and label names, templates, run errors and file names come from strangers. Gradio renders
# gr.Markdown as markdown with raw HTML (sanitised, but remote images and links stay), gr.HTML as is (an
# <img onerror> runs), toasts as sanitised HTML, and plotly reads tags in figure texts. So every such text goes
# through one of these helpers on its way to the page; none relies on gradio's own sanitising.

_HTML_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# ASCII punctuation that can start or end markdown syntax (emphasis, code, links, images, lists, headings, tables,
# setext underlines, autolinks "http:" "www." "a@b"); quotes, commas and the like never do, and stay readable.
_MD_PUNCTUATION = set(string.punctuation) - set("'\",;?/%")


def html_text(value) -> str:
    """`value` as the text of an HTML element (gr.HTML, a toast, a plotly label): no tag or entity is read."""
    return html.escape(str(value), quote=False)


def md_text(value) -> str:
    """`value` as literal text in markdown (a paragraph, a heading, a list item, bold): `<`, `>` and `&` become
    entities and the ASCII punctuation markdown reads is backslash-escaped, so no tag, image, link, emphasis, code
    or autolink can start; line breaks become markdown line breaks (blank lines are dropped, so no block starts)."""
    lines = [_md_line(line) for line in _LINE_BREAK.split(str(value))]
    return "  \n".join(line for line in lines if line.strip())


def _md_line(line: str) -> str:
    return "".join(_HTML_ENTITIES.get(c) or ("\\" + c if c in _MD_PUNCTUATION else c) for c in line)


def md_code(value) -> str:
    """`value` as an inline code span: its fence is longer than any run of backticks inside, so it cannot be closed
    early; line breaks become spaces (a blank line would end the span's paragraph). Not for table cells (a `|`
    would still split the cell)."""
    text = _LINE_BREAK.sub(" ", str(value))
    fence = "`" * (max(map(len, re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text[:1] in ("`", " ") or text[-1:] in ("`", " ") else ""  # the span strips one space per side
    return f"{fence}{pad}{text}{pad}{fence}" if text else "` `"


def md_block(value, info: str = "text") -> str:
    """`value` as a fenced code block: its fence is longer than any run of backticks inside, so no line can close
    it; markdown shows the content as is."""
    text = _LINE_BREAK.sub("\n", str(value))
    fence = "`" * max(3, max(map(len, re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def plot_text(value) -> str:
    """`value` as a text plotly draws (trace and category names, titles): plotly reads a few tags (<a href>, <b>,
    <br>, <span style>) and entities in them, so the text is entity-escaped and shows as typed."""
    return html_text(value)


# ---- delimiters: shown escaped in a one-line textbox ("\n\n" is invisible otherwise) ----

# ---- formatting ----

def fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "–"
    return f"{number:.{digits}f}"


def metrics_markdown(metrics: dict, n: int, seconds: float, lang: str) -> str:
    """A one-table summary: each metric (with its few-shot spread when there is one), then rows and time."""
    names = headline(metrics)
    cells = []
    for name in names:
        value = fmt(metrics[name])
        if metrics.get(f"{name}_std"):
            value += f" ± {fmt(metrics[f'{name}_std'], 2)}"
        cells.append(value)
    header = "| " + " | ".join(t_metric(n_, lang) for n_ in names) + " |"
    rule = "|" + "---|" * len(names)
    row = "| " + " | ".join(f"**{c}**" for c in cells) + " |"
    footer = t("metrics.footer", lang, n=n, seconds=f"{seconds:.1f}")
    return f"{header}\n{rule}\n{row}\n\n{footer}" if names else footer


def t_metric(name: str, lang: str) -> str:
    """A metric's display name ("acc" -> "accuracy" / "准确率"); unknown metrics keep their engine name."""
    key = f"metric.{name}"
    try:
        return t(key, lang)
    except KeyError:
        return name


def display_table(table: pd.DataFrame, lang: str, prompt_limit: int = 600) -> pd.DataFrame:
    """A report table ready for a gr.Dataframe: rounded probabilities, trimmed prompts, translated headers."""
    df = table.copy()
    for column in df.columns:
        if str(column).startswith("p(") and pd.api.types.is_numeric_dtype(df[column]):
            df[column] = df[column].round(3)
    if "prompt" in df:
        df["prompt"] = df["prompt"].map(lambda p: shorten(p, prompt_limit))
    if "correct" in df:
        df["correct"] = df["correct"].map(lambda c: "✓" if c is True or c == 1 else ("✗" if c is False or c == 0
                                                                                      else ""))
    # Short columns first: a long prompt column would push the answers out of view.
    df = df[[c for c in df.columns if c != "prompt"] + (["prompt"] if "prompt" in df else [])]
    return df.rename(columns={c: t(f"col.{c}", lang) for c in df.columns if f"col.{c}" in _COLUMN_KEYS})


_COLUMN_KEYS = {"col.prompt", "col.gold", "col.prediction", "col.correct", "col.generated", "col.name", "col.row"}


def duration(seconds: float | None, lang: str = "en") -> str:
    """A duration for people: "42 s", "3 min 05 s", "2 h 07 min" (in Chinese "42 秒", "3 分 05 秒", "2 小时 07 分").

    >>> duration(185), duration(185, "zh"), duration(7620, "zh")
    ('3 min 05 s', '3 分 05 秒', '2 小时 07 分')
    """
    if seconds is None:
        return "–"
    seconds = int(seconds)
    if seconds < 60:
        return t("time.seconds", lang, s=seconds)
    if seconds < 3600:
        return t("time.minutes", lang, m=seconds // 60, s=f"{seconds % 60:02d}")
    return t("time.hours", lang, h=seconds // 3600, m=f"{seconds % 3600 // 60:02d}")


SAMPLERS = ("random", "balanced")


def sampler_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"sampler.{s}", lang), s) for s in SAMPLERS]
