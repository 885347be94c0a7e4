"""A comparison as one self-contained HTML file a user can send: what was compared (data, rows, models and their
families, shots, seeds, date), the grid, the metrics, the charts (plotly.js inline: it opens offline), the paired
test, the per-row table and the templates themselves, in the page's language.

Everything in it that came from outside (prompt, model, data and label names, cells, templates, messages) is
escaped: a table cell as HTML text, a chart text by `plot_text` and plotly's own JSON escaping ("<" is written
\\u003c inside its script), so no text can open a tag or close the script.
"""

from __future__ import annotations

import html

import pandas as pd

from promptlab.prompts.files import dump_template
from promptlab.ui import compare_view
from promptlab.ui.i18n import say, t

STYLE = """
body {font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1200px;
      color: #1f2937; padding: 0 1rem;}
h1 {font-size: 1.6rem;} h2 {font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #e5e7eb;}
table {border-collapse: collapse; margin: 0.5rem 0; font-size: 0.9rem;}
th, td {border: 1px solid #d1d5db; padding: 4px 8px; text-align: left; vertical-align: top;}
th {background: #f3f4f6; word-break: keep-all;}
pre {background: #f9fafb; border: 1px solid #e5e7eb; padding: 8px; white-space: pre-wrap; word-break: break-word;}
.note {color: #4b5563;}
"""


def html_report(result: dict, lang: str) -> str:
    """The whole report as one HTML document."""
    title = t("report.title", lang)
    parts = [f"<h1>{text(title)}</h1>", table(settings_table(result, lang)),
             paragraph(compare_view.protocol_note(result, lang))]
    messages = [t("models.unloaded", lang, old=old, new=new) for old, new in result.get("notes", ())]
    messages += [f"{name}: {say(message, lang)}" for name, message in result.get("failed", {}).items()]
    if messages:
        parts += [f"<h2>{text(t('report.messages', lang))}</h2>", "<ul>"]
        parts += [f"<li>{text(m)}</li>" for m in messages] + ["</ul>"]
    if compare_view.several_models(result):
        parts += [f"<h2>{text(t('compare.grid', lang))}</h2>", table(compare_view.shown_grid(result, lang))]
    metrics, bars, confusion, examples = compare_view.render(result, lang)
    parts += [f"<h2>{text(t('compare.metrics', lang))}</h2>", table(metrics),
              figure(bars, first=True), figure(confusion)]
    significance = compare_view.shown_significance(result, lang)
    if not significance.empty:
        parts += [f"<h2>{text(t('compare.significance', lang))}</h2>",
                  paragraph(t("compare.significance_info", lang)), table(significance)]
    parts += [f"<h2>{text(t('compare.examples', lang))}</h2>", table(examples)]
    templates = result.get("templates") or {}
    if templates:
        parts.append(f"<h2>{text(t('report.templates', lang))}</h2>")
        parts += [f"<h3>{text(name)}</h3><pre>{text(dump_template(template))}</pre>"
                  for name, template in templates.items()]
    parts.append(f'<p class="note">{text(t("report.footer", lang))}</p>')
    return (f'<!DOCTYPE html>\n<html lang="{"zh" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{text(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(parts) + "\n</body>\n</html>\n")


def settings_table(result: dict, lang: str) -> pd.DataFrame:
    """What was compared: date, data, rows, models (with their families), shots, seeds, sampler."""
    data, protocol = result.get("data") or {}, result.get("protocol") or {}
    models = ", ".join(f"{m['name']} ({t('family.' + m['family'], lang)})" if m.get("family") else m["name"]
                       for m in result.get("models", ()))
    first = protocol.get("seed", 0)
    seeds = f"{first}–{first + protocol['seeds'] - 1}" if protocol.get("seeds", 1) > 1 else str(first)
    rows = [(t("report.date", lang), result.get("date", "")),
            (t("report.data", lang), f"{data.get('name', '')} [{data.get('split', '')}]"),
            (t("col.rows", lang), data.get("rows", "")),
            (t("report.models", lang), models),
            (t("col.shots", lang), protocol.get("shots", "")),
            (t("report.seeds", lang), seeds if protocol.get("shots") else "–"),
            (t("studio.sampler", lang), t(f"sampler.{protocol['sampler']}", lang) if protocol.get("sampler") else "")]
    return pd.DataFrame(rows, columns=[t("report.setting", lang), t("report.value", lang)])


def table(df: pd.DataFrame) -> str:
    """A DataFrame as an HTML table, every header and cell escaped."""
    head = "".join(f"<th>{text(c)}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def cell(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return text(value)


def figure(fig, first: bool = False) -> str:
    """A plotly figure as a div; the first one carries plotly.js itself (inline: the file needs no network)."""
    return fig.to_html(full_html=False, include_plotlyjs=bool(first), config={"displaylogo": False})


def paragraph(value: str) -> str:
    return f'<p class="note">{text(value)}</p>' if value else ""


def text(value) -> str:
    """Outside text as the text of an HTML element or attribute."""
    return html.escape(str(value), quote=True)
