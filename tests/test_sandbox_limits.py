"""The template sandbox's budgets: no way to build a huge value (format widths, literals, slices, namespaces, many
small values), a deadline per render and a caller's budget per request, linear-time checks, bounded sources and
compile cache. Memory is measured with tracemalloc around one real render; time bounds are generous ("does not
hang"), each case took seconds to minutes, or hundreds of MB, before these limits."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from promptlab.prompts.render import _locate, render, validate
from promptlab.prompts.sandbox import (
    MAX_BUILT,
    MAX_CACHED_CHARS,
    MAX_SECONDS,
    MAX_SOURCE_CHARS,
    BudgetSpent,
    compile_source,
    render_budget,
    render_source,
)
from promptlab.prompts.values import RenderError, Template

ROW = {"text": "great fun", "label": "positive"}
MB = 1_000_000


def refused(source: str, row=ROW, max_seconds: float = 5, max_mb: float = 5) -> str:
    """The RenderError text of rendering `source`, checked to come fast, and (in a second render, traced, as
    tracemalloc slows rendering down several times) without building anything large."""
    start = time.perf_counter()
    with pytest.raises(RenderError) as info:
        render(Template("t", source), row)
    assert time.perf_counter() - start < max_seconds
    tracemalloc.start()
    try:
        with pytest.raises(RenderError):
            render(Template("t", source), row)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < max_mb * MB, f"built {peak / MB:.0f} MB before refusing"
    assert render(Template("t", "{{ text }}"), ROW).prompt == "great fun"  # the sandbox keeps working
    return str(info.value)


# ---------------------------------------------------------------------------------------------------------------
# memory: widths of every kind of format are checked as resolved, before the text exists

@pytest.mark.parametrize("source", [
    "{{ '{:{}}'.format('a', '30000000') }}",  # the width comes from a (string) argument
    "{{ '{:{w}}'.format('a', w='30000000') }}",
    "{{ '{a:{w}}'.format_map({'a': 'x', 'w': '30000000'}) }}",
    "{{ '{0:>{1}}'.format('a', text) }}",  # ... or from a data cell
])
def test_nested_format_widths_are_checked_as_resolved(source):
    message = refused(source, {"text": "30000000"})
    assert "asks for a width over 100,000" in message and "cannot exhaust the server" in message


@pytest.mark.parametrize("source", [
    "{{ ('{:99999}' * 300).format(*range(300)) }}",  # each field just under the limit, 30 MB together
    "{{ ('%99999s' * 300) % ((1,) * 300) }}",
    "{{ ('%*s' * 300) % ((99999, 1) * 300) }}",
    "{{ ('%99999s' * 300)|format(*range(300)) }}",
    "{{ ('%.99999f' * 300) % ((1.5,) * 300) }}",  # precision builds digits too
])
def test_many_fields_just_under_the_width_limit_are_refused_together(source):
    assert "asks for widths adding up to over 100,000 characters" in refused(source)


def test_formats_within_the_limits_still_work():
    source = ("{{ '{:>6}|{:<4}|{:^5}'.format('ab', 7, 'c') }} {{ '%-4s|%*d' % ('x', 3, 5) }} "
              "{{ '%(k)s=%(v)05.1f'|format(k='pi', v=3.14159) }} {{ '%%' % () }} {{ '{:,.2f}'.format(1234.5) }}")
    assert render(Template("t", source), ROW).prompt == "    ab|7   |  c   x   |  5 pi=003.1 % 1,234.50"


def test_tojson_indent_cannot_multiply_sizes():
    assert "tojson(indent=9999) is too wide; the limit is 100" in refused("{{ range(1000)|list|tojson(indent=9999) }}")
    nested = "{% set ns = namespace(v=1) %}{% for i in range(30) %}{% set ns.v = [ns.v] %}{% endfor %}"
    assert "tojson() would build a text over 100,000" in refused(nested + "{{ ([ns.v] * 900)|tojson(indent=100) }}")
    assert render(Template("t", "{{ {'a': [1]}|tojson(indent=1) }}"), ROW).prompt == '{\n "a": [\n  1\n ]\n}'


def test_a_literal_holding_a_value_twice_cannot_double_it_unseen():
    """[x, x] holds x twice: printed or compared, it is twice as big. Doubling 22 times made 16 MB in 4 s."""
    doubling = "{% set ns = namespace(l=[]) %}{% for i in range(22) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}"
    assert "built a value of over 100,000 characters or items" in refused(doubling + "{{ ns.l|string|length }}")
    doubling = "{% set ns = namespace(n=namespace()) %}{% for i in range(22) %}" \
               "{% set ns.n = namespace(a=ns.n, b=ns.n) %}{% endfor %}"
    assert "built a value of over 100,000 characters or items" in refused(doubling + "{{ ns.n|string|length }}")


def test_every_value_built_is_charged_to_one_budget_per_render():
    many_copies = "{% for i in range(1000) %}{% set x = 'a' * 99999 %}{% endfor %}"
    many_slices = "{% set s = 'a' * 99999 %}{% for i in range(1000) %}{% set x = s[1:] %}{% endfor %}"
    held = "{% set s = 'a' * 99999 %}" + "".join(f"{{% set v{i} = s[{i}:] %}}" for i in range(200))
    for source in (many_copies, many_slices, held):  # held kept 20 MB alive in one render
        assert f"builds more than {MAX_BUILT:,} characters or items in all" in refused(source)


def test_sum_of_lists_is_linear():
    """sum() copied the growing list once per item: 50,000 one-item lists took seconds."""
    start = time.perf_counter()
    assert render(Template("t", "{{ ([[0]] * 50000)|sum(start=[])|length }}"), ROW).prompt == "50000"
    assert time.perf_counter() - start < 1


# ---------------------------------------------------------------------------------------------------------------
# time: a deadline per render, checked at every step, call, filter, test and output

@pytest.mark.parametrize("source", [
    "{% set b = range(1000)|list * 100 %}{% for i in range(1000) %}{{ b|max }}{% endfor %}",  # ~5 s, builds nothing
    # 5,000 scans of 100,000 items: ~2.5 s (1,000 scans took 0.49 s here, too close to the 0.5 s deadline to test it)
    "{% set b = range(1000)|list * 100 %}{% for i in range(1000) %}{% for j in range(5) %}{{ -1 in b }}{% endfor %}"
    "{% endfor %}",
    "{% set b = range(1000)|list * 100 %}{% set c = range(1000, 2000)|list * 100 %}"
    "{{ b|reject('in', c)|list|length }}",  # one filter, 100,000 tests of 100,000 comparisons: hours
])
def test_slow_filters_stop_at_the_render_deadline(source):
    assert f"takes more than {MAX_SECONDS:g} s to render" in refused(source)


def test_a_loop_over_sorts_is_stopped_by_its_copies_or_its_deadline():
    """Each sorted copy is 100,000 items: the built budget or the deadline stops it, whichever comes first."""
    message = refused("{% set b = range(1000)|list * 100 %}{% for i in range(1000) %}{{ b|sort|length }}{% endfor %}",
                      max_mb=30)  # Jinja's sort keys take ~100 bytes an item: 10 MB for 100,000
    assert f"takes more than {MAX_SECONDS:g} s to render" in message or f"more than {MAX_BUILT:,}" in message


def test_render_budget_bounds_the_rendering_of_a_whole_request():
    slow = Template("t", "{% set b = range(1000)|list * 10 %}{% for i in range(3) %}{{ b|sort|length }}{% endfor %}")
    start = time.perf_counter()
    with render_budget(0.3), pytest.raises(RenderError) as info:
        for _ in range(5000):  # without the budget: 5,000 rows of ~5 ms each
            render(slow, ROW)
    assert time.perf_counter() - start < 3
    assert str(info.value).startswith("prompt: Rendering took more than 0.3 s in total for this request. "
                                      "Use fewer rows, shots or seeds")
    assert render(slow, ROW).prompt == "10000" * 3  # outside the block, renders go on


def test_render_budget_counts_rendering_only_and_nested_blocks_never_extend():
    with render_budget(0.2):
        time.sleep(0.3)  # e.g. scoring between renders: not rendering time
        assert render_source("{{ 1 }}", {}) == "1"
        # an inner budget cannot give more than the outer one has left
        with render_budget(60), pytest.raises(BudgetSpent, match="more than 0.2 s in total"):
            render_source("{% set b = range(1000)|list * 100 %}{% for i in range(1000) %}{{ b|max }}{% endfor %}", {})
        with pytest.raises(BudgetSpent):  # spent for every later render of the request
            render_source("{{ 1 }}", {})


def test_validate_stops_checking_rows_when_its_time_is_spent():
    slow = Template("t", "{% set b = range(1000)|list * 100 %}{% for i in range(1000) %}{{ b|max }}{% endfor %}",
                    "{{ label }}", ("negative", "positive"))
    start = time.perf_counter()
    problems = validate(slow, ["text", "label"], [ROW] * 20)  # 20 rows x minutes each before
    assert time.perf_counter() - start < 10
    assert problems[-1].message.startswith("Stopped checking at row ") and "of 20" in problems[-1].message
    assert any("takes more than 0.5 s to render" in p.message for p in problems[:-1])


# ---------------------------------------------------------------------------------------------------------------
# the sandbox's own checks are linear in their input

def test_format_checks_are_linear_on_crafted_cells():
    """The old width check was a backtracking regex: '{' + ':' * 100,000 took about a minute."""
    for cell, source in [("{" + ":" * 99_999, "{{ text % 1 }}"), ("{" + ":" * 99_999, "{{ text.format(1) }}"),
                         ("%" + "0" * 99_999 + "d", "{{ text % 1 }}"), ("{:" + "9" * 99_998, "{{ text.format(1) }}"),
                         ("%(" * 50_000, "{{ text % {} }}"), ("%" + "1" * 99_999, "{{ text|format(1) }}")]:
        start = time.perf_counter()
        try:
            render(Template("t", source), {"text": cell})
        except RenderError:
            pass
        assert time.perf_counter() - start < 1, cell[:10]


def test_locating_a_column_is_linear():
    """The tag regex backtracked over every unclosed '{{': 100,000 characters took about 40 s."""
    start = time.perf_counter()
    assert _locate("{{" * 50_000 + " name", "name") == (None, None)
    assert _locate("{{ x }}" * 14_000 + "\n{{ a.name }} {% if name %}", "name") == (2, 20)
    assert time.perf_counter() - start < 1


# ---------------------------------------------------------------------------------------------------------------
# sources: bounded length and depth, and a compile cache bounded by size

def test_long_sources_are_refused_with_their_length():
    long = "x" * (MAX_SOURCE_CHARS + 1)
    with pytest.raises(RenderError, match=r"^prompt: This field is 10,001 characters long; a template field may "
                                          r"have at most 10,000\. Shorten it"):
        render(Template("t", long), ROW)
    [problem] = validate(Template("t", "{{ text }}", instruction=long), ["text"])
    assert (problem.field, problem.message) == ("instruction", "This field is 10,001 characters long; a template "
                                                               "field may have at most 10,000.")


def test_compile_cache_is_bounded_by_source_size():
    compile_source.cache_clear()
    for i in range(50):  # 50 distinct sources of 10,000 characters: 500,000 characters of source
        compile_source(f"{i:04d}" + "x" * (MAX_SOURCE_CHARS - 20) + "{{ text }}")
    assert compile_source.cache_info().currsize <= MAX_CACHED_CHARS // (MAX_SOURCE_CHARS - 10)
    assert compile_source.cache_info().chars <= MAX_CACHED_CHARS
