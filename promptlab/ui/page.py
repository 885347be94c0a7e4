"""What tabs share: the components every tab may read (`Page`), and each tab's typed handles, which the assembler
(`promptlab.ui.app`) uses to wire the events that cross tabs. A tab never imports another tab."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Part:
    """What one tab re-renders on a language switch: `fn(*inputs[, request=])` returns the values of `outputs`."""

    fn: object
    inputs: list
    outputs: list


@dataclass
class Page:
    """Components shared by all tabs, made by the assembler before the tabs are built (one per app build)."""

    labels: object                         # i18n.Labels
    lang: object = None                    # gr.Radio: "en" | "zh"
    tabs: object = None                    # gr.Tabs, to jump between tabs
    data: object = None                    # gr.State: the visitor's data selection (see tabs.data.selection)
    draft: object = None                   # gr.State: the visitor's current Template (or None while invalid)
    model: object = None                   # gr.State: the model the visitor picked (None: the served one)
    runs_changed: object = None            # gr.State bumped when this visitor starts, cancels, resumes or deletes
    editor: list = field(default_factory=list)  # the template editor's fields (ui.editor.FIELD_NAMES order): every
                                                # action takes its template from them, as they show at the click
    language_parts: list = field(default_factory=list)  # what each tab re-renders on a language switch (ui.switch)

    def on_language(self, fn, inputs, outputs) -> None:
        """Re-render `outputs` with `fn(*inputs)` when the language changes, from what the page keeps: part of the
        one switch event (`ui.switch`), never an event of its own."""
        self.language_parts.append(Part(fn, list(inputs) if isinstance(inputs, list) else [inputs],
                                        list(outputs) if isinstance(outputs, list) else [outputs]))


@dataclass
class DataHandles:
    demo: object                           # the demo-task dropdown the page loads first
    shown: list = field(default_factory=list)  # what the tab shows for a selection (tabs.data.show)


@dataclass
class StudioHandles:
    pick: object                           # the library dropdown
    checked: list = field(default_factory=list)  # outputs of the live check (page.draft first)
    library: list = field(default_factory=list)  # outputs of ui.library_view.refresh (the list, what it holds)


@dataclass
class CompareHandles:
    pick: object                           # the multiselect of prompts to score
    inputs: list = field(default_factory=list)   # of tabs.compare.compare
    outputs: list = field(default_factory=list)
    models: object = None                  # the multiselect of models to score with


@dataclass
class TuneHandles:
    watch: object                          # the run shown on the dashboard
    to_compare: object                     # "Score in Compare"


@dataclass
class RunsHandles:
    picked: object                         # the selected runs
    to_compare: object                     # "Score in Compare"
    listed: list = field(default_factory=list)   # outputs of tabs.runs.list_table
    list_inputs: list = field(default_factory=list)  # its inputs (the picks, the language, the sort order)
