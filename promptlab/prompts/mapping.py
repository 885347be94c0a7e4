"""Column mapping: a template written for one dataset's column names, used on data that names them otherwise.

`rename_placeholders(template, {"sentence": "text"})` renames the placeholders in the template's Jinja (instruction,
prompt, target, an answer-choice expression), so the result is just a template: what the editor shows is what is
scored, tuned and saved. The renaming goes through Jinja's own lexer and parser: only the variables the template
reads from the row are renamed, never text, strings ("sentence"), attributes (x.sentence), filter or test names,
keyword arguments or a longer name ({{ sentence_id }}), and the result is parsed again and checked to be the same
template but for the renamed variables.

`propose_mapping` guesses the columns meant by the placeholders the data lacks: the same name spelled otherwise
(Sentence, sentence-text), the label placeholder -> the label column, a close name, and one text placeholder left ->
the one text column left (or the one that holds the long texts). `fitting_mapping` is the proposal when it makes
the template fit, for the lists that offer only templates that fit the data.

>>> template = Template("sst2", "Review: {{ sentence }}\\nSentiment:", "{{ label }}", ("negative", "positive"))
>>> propose_mapping(template, ["text", "stars"], "stars")
{'label': 'stars', 'sentence': 'text'}
>>> rename_placeholders(template, {"sentence": "text", "label": "stars"}).prompt
'Review: {{ text }}\\nSentiment:'
"""

from __future__ import annotations

import difflib
import re
from dataclasses import replace

from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.lexer import TokenStream
from jinja2.parser import Parser

from promptlab.messages import Message, UserError
from promptlab.prompts.sandbox import MAX_SOURCE_CHARS, PROVIDED, undeclared_variables
from promptlab.prompts.values import Template

# Parses only (nothing renders here), with the sandbox's syntax: its delimiters and newline handling are Jinja's
# defaults, so tokens and positions are the ones the sandbox reads.
_PARSER_ENV = Environment(keep_trailing_newline=True)
# Names Jinja reads as constants or operators, never as a variable: a column so named cannot be a placeholder.
_RESERVED = frozenset({"true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if",
                       "else", "loop", "self", "caller", "varargs", "kwargs"})
LONGER = 2.0  # how much longer the main text column's values are than any other text column's
MAX_COMPARED = 100  # characters of a column name compared with a placeholder's
CLOSE_NAME = 0.8  # difflib ratio from which a column's name is taken for a placeholder's (hypothesis ~ hypotheses)


def placeholders(template: Template) -> set[str]:
    """The row columns the template reads (fields with a syntax error are skipped: validation reports them)."""
    found = set()
    for _, source in jinja_fields(template):
        try:
            found |= undeclared_variables(source)
        except TemplateSyntaxError:
            continue
    return found


def missing_columns(template: Template, columns) -> list[str]:
    """The placeholders the data has no column for, sorted."""
    return sorted(placeholders(template) - set(columns))


def jinja_fields(template: Template) -> list[tuple[str, str]]:
    """(field name, Jinja source) of every field that is Jinja, empty ones left out."""
    fields = [("instruction", template.instruction), ("prompt", template.prompt), ("target", template.target)]
    if isinstance(template.answer_choices, str):
        fields.append(("answer_choices", template.answer_choices))
    return [(name, source) for name, source in fields if source]


def usable_column(name: str) -> bool:
    """Can a template read this column as a placeholder ({{ name }})? It must be a name, not one Jinja or the
    renderer reserves (true, loop, answer_choices, mask, range, ...)."""
    return name.isidentifier() and name not in _RESERVED and name not in PROVIDED


# ---- renaming ---------------------------------------------------------------------------------------------------


def rename_placeholders(template: Template, mapping: dict[str, str]) -> Template:
    """The template reading column `mapping[p]` wherever it read placeholder `p`. Raises ValueError (what and how to
    fix it) when a target is no usable column name, a placeholder is not one the template reads, or a field uses
    the name for a variable of its own ({% set %}, a loop variable, a macro argument), where renaming could change
    what the template means."""
    mapping = {old: new for old, new in mapping.items() if old != new}
    read = placeholders(template)
    for old, new in mapping.items():
        if old not in read:
            raise UserError("mapping.no_placeholder", name=old,
                            reads=", ".join(sorted(read)) or Message("mapping.no_column"))
        if not usable_column(new):
            raise UserError("mapping.unusable_column", column=new)
    if not mapping:
        return template
    return replace(template, **{field: rename_in_source(source, mapping, field)
                                for field, source in jinja_fields(template)})


def rename_in_source(source: str, mapping: dict[str, str], field: str = "prompt") -> str:
    """One Jinja source with the variables it reads from the row renamed by `mapping` (see rename_placeholders)."""
    if len(source) > MAX_SOURCE_CHARS:
        raise UserError("mapping.too_long", field=Message(f"field.{field}"), length=len(source),
                        limit=MAX_SOURCE_CHARS)
    try:
        wanted = {old: new for old, new in mapping.items() if old in undeclared_variables(source)}
    except TemplateSyntaxError:
        raise UserError("mapping.syntax", field=Message(f"field.{field}")) from None
    if not wanted:
        return source
    names = _names_with_offsets(source)
    own = {str(node.name) for node in names if node.ctx != "load"} | _defined_elsewhere(source)
    clash = sorted((set(wanted) | set(wanted.values())) & own)
    if clash:
        raise UserError("mapping.own_variable", field=Message(f"field.{field}"), name=clash[0])
    renamed_nodes = [node for node in names if node.name in wanted]
    if not all(isinstance(node.name, _At) for node in renamed_nodes):  # a name the parser made up, not written
        raise UserError("mapping.cannot_locate", field=Message(f"field.{field}"))
    edits = sorted((node.name.offset, str(node.name)) for node in renamed_nodes)
    renamed, end = [], 0
    for offset, old in edits:
        renamed += [source[end:offset], wanted[old]]
        end = offset + len(old)
    result = "".join(renamed) + source[end:]
    _check_same_but_renamed(source, result, wanted, field)
    return result


class _At(str):
    """A name token's text that remembers where it starts in the source (the parser keeps the object in Name
    nodes, so each Name node can say where it was written)."""

    offset: int

    def __new__(cls, text: str, offset: int):
        made = super().__new__(cls, text)
        made.offset = offset
        return made


def _names_with_offsets(source: str) -> list[nodes.Name]:
    """Every Name node of the source's parse tree, its name an `_At` holding the offset it was written at."""
    parser = Parser(_PARSER_ENV, source)
    parser.stream = TokenStream(_PARSER_ENV.lexer.wrap(_positioned(source)), None, None)
    try:
        tree = parser.parse()
    except RecursionError:
        raise UserError("mapping.too_deep") from None
    return list(tree.find_all(nodes.Name))


def _positioned(source: str):
    """The lexer's raw tokens, name tokens carrying their offset. Tokens come in source order and each one's text
    is the source's, except whitespace that a "-" in {%- / {{- strips from the text before it: skipped here."""
    position = 0
    for lineno, kind, text in _PARSER_ENV.lexer.tokeniter(source, None):
        while not source.startswith(text, position):
            if position >= len(source) or not source[position].isspace():
                raise UserError("mapping.cannot_locate_any")
            position += 1
        yield lineno, kind, _At(text, position) if kind == "name" else text
        position += len(text)


def _defined_elsewhere(source: str) -> set[str]:
    """Names a source defines other than by Name nodes: macros ({% macro m() %}) and imports."""
    tree = _PARSER_ENV.parse(source)
    defined = {node.name for node in tree.find_all(nodes.Macro)}
    defined |= {node.target for node in tree.find_all(nodes.Import)}
    for node in tree.find_all(nodes.FromImport):
        defined |= {name if isinstance(name, str) else name[-1] for name in node.names}
    return defined


def _check_same_but_renamed(old: str, new: str, wanted: dict[str, str], field: str) -> None:
    """The renamed source must parse to the old one's tree with the renamed Name nodes, and read the renamed
    columns: anything else would mean the renaming touched more than the placeholders."""
    expected = _PARSER_ENV.parse(old)
    for node in expected.find_all(nodes.Name):
        node.name = wanted.get(node.name, node.name)
    reads = (undeclared_variables(old) - set(wanted)) | set(wanted.values())
    try:
        same = _PARSER_ENV.parse(new) == expected and undeclared_variables(new) == reads
    except TemplateSyntaxError:
        same = False
    if not same:
        raise UserError("mapping.changes_more", field=Message(f"field.{field}"))


# ---- proposing ----------------------------------------------------------------------------------------------------


def propose_mapping(template: Template, columns, label_column: str | None = None, rows=()) -> dict[str, str]:
    """Columns for the placeholders the data lacks, as far as they can be told (maybe not all of them):

    1. a column spelled the same but for case, spaces, "-" and "_" (Sentence, sentence-text ~ sentence_text);
    2. the placeholder the target of a classification template reads (the label) -> the label column;
    3. a column with a close name (hypotheses ~ hypothesis), when only one is close;
    4. one placeholder left and one text column left (most of its values in `rows` are text), or one whose values
       are much longer than the other text columns' (a review beside a product name) -> that column.

    Each column is proposed once, and never one the template already reads."""
    read = placeholders(template)
    missing = sorted(read - set(columns))
    free = [c for c in columns if c not in read and usable_column(c)]
    mapping: dict[str, str] = {}

    def take(placeholder: str, column: str) -> None:
        mapping[placeholder] = column
        missing.remove(placeholder)
        free.remove(column)

    for placeholder in list(missing):
        same = [c for c in free if _simplified(c) == _simplified(placeholder)]
        if len(same) == 1:
            take(placeholder, same[0])
    label = [p for p in missing if p in _reads(template.target)]  # a generated target is text, not the label
    if template.mode == "rank" and label_column in free and len(label) == 1:
        take(label[0], label_column)
    for placeholder in list(missing):
        close = [c for c in free if len(c) <= MAX_COMPARED  # difflib is quadratic in the names' length
                 and difflib.SequenceMatcher(None, placeholder, c).ratio() >= CLOSE_NAME]
        if len(close) == 1:
            take(placeholder, close[0])
    texts = [c for c in free if c != label_column and _is_text(c, rows)]
    main = texts[0] if len(texts) == 1 else _main_text(texts, rows)
    if len(missing) == 1 and main:
        take(missing[0], main)
    return dict(sorted(mapping.items()))


def fitting_mapping(template: Template, columns, label_column: str | None = None, rows=()) -> dict[str, str] | None:
    """The mapping that makes the template read only the data's columns: {} when it already does, the proposal
    when that covers every missing placeholder, None when the template does not fit even after it."""
    missing = missing_columns(template, columns)
    if not missing:
        return {}
    proposal = propose_mapping(template, columns, label_column, rows)
    return proposal if set(proposal) == set(missing) else None


def describe(mapping: dict[str, str]) -> str:
    """A mapping as people read it: "sentence → text, label → stars"."""
    return ", ".join(f"{old} → {new}" for old, new in mapping.items())


def _reads(source: str) -> set[str]:
    try:
        return set(undeclared_variables(source)) if source else set()
    except TemplateSyntaxError:
        return set()


def _simplified(name: str) -> str:
    return re.sub(r"[\s_-]+", "", name).casefold()


def _main_text(columns: list[str], rows) -> str | None:
    """Of several text columns, the one whose values are much longer than the others' (a review beside a product
    name): at least LONGER times the next longest on average; None when none stands out."""
    if len(columns) < 2 or not rows:
        return None
    length = {c: sum(len(str(row.get(c) or "")) for row in rows) / len(rows) for c in columns}
    first, second = sorted(columns, key=length.get, reverse=True)[:2]
    return first if length[first] >= LONGER * max(length[second], 1) else None


def _is_text(column: str, rows) -> bool:
    """Are most of the column's values in `rows` text (True when there are no rows to tell)?"""
    values = [row.get(column) for row in rows if row.get(column) is not None]
    return not values or sum(isinstance(v, str) for v in values) * 2 > len(values)
