"""A job spec: what to train, as plain JSON, self-contained (the template travels as YAML text).

    {"template": "<YAML text>", "data": "../shared/datasets/sst2", "model": "smollm2-135m-instruct",
     "train_split": "train", "eval_split": "validation", "eval_size": 200, "label_column": "label",
     "holdout": null, "config": {...TuneConfig fields...}, "total_steps": 200}

"holdout" ({"fraction": 0.2, "seed": 0}) holds a validation split out of data with one split (a single file), as
`promptlab.data.splits` does for the app and `promptlab score`; left out of a spec, single-split data gets the
default one, and the prepared spec records what was applied (null for data with splits of its own).

`prepare_spec` validates everything that can be checked without torch (template, data, config, and the config
against the data), so a bad job is refused before a process is launched. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from promptlab.messages import UserError
from promptlab.models.registry import DEFAULT_MODEL
from promptlab.runs import store
from promptlab.runs.layout import existing_run
from promptlab.tuning.baseline_cache import baseline_key, reuse_baselines
from promptlab.tuning.config import TuneConfig

MAX_NAME = 200  # characters of a job's name
SPEC_KEYS = ("template", "data", "model", "train_split", "eval_split", "eval_size", "label_column", "config",
             "total_steps", "name", "holdout")


@dataclass(frozen=True)
class Parts:
    """A spec's loaded pieces."""

    template: object  # promptlab.prompts.values.Template
    dataset: object  # promptlab.data.Dataset
    config: TuneConfig
    train_split: str
    eval_split: str
    train_rows: list[dict]
    eval_rows: list[dict]  # the whole eval split; the run evaluates a fixed subset of it
    holdout: dict | None = None  # the validation split held out of single-split data (`data.splits`), if any


def submit(spec: dict, runs_dir=None, *, launch: bool = True, owner: str | None = None,
           allow_training: bool | None = None, dataset=None) -> str:
    """Validate `spec`, create its run folder, launch (or queue) its worker; return the run id.

    `spec` keys: template (YAML text), data (path or dataset name), model, config (TuneConfig fields) and
    optionally train_split, eval_split, eval_size, label_column, name. Raises ValueError before creating anything
    when the spec or config is invalid, or (with `launch`) when training is turned off (`allow_training`, default:
    settings.training_allowed()). `owner` (a secret token) makes the run that owner's (see `store`). With
    `launch=False` the run waits for `store.launch` (or a worker started by hand: `promptlab worker RUN_DIR`);
    meanwhile a caller may add files such as baselines.json. `dataset`: the spec's data, loaded already (the web
    app's, read within a visitor's bounds), so that it is not read again here.
    """
    if launch:
        store.check_training(allow_training)  # before anything is written
    prepared, parts = prepare_with_parts(spec, dataset)
    run_id = store.create_run(prepared, runs_dir, owner=owner)
    # Baselines measured before for the same template, data, model, shots and seeds: the run has them at once.
    reuse_baselines(existing_run(run_id, runs_dir), baseline_key(parts, prepared), parts.template.name)
    if launch:
        store.launch(run_id, runs_dir, allow_training=allow_training)
    return run_id


def prepare_spec(spec: dict) -> dict:
    """Validate and complete a job spec; the returned dict is what gets saved as spec.json.

    Raises ValueError (readable) on any problem: unknown keys, a template that does not parse, data that does not
    load, missing splits, an invalid config, or a config that does not fit the data (e.g. batch > examples).
    """
    return prepare_with_parts(spec)[0]


def prepare_with_parts(spec: dict, dataset=None) -> tuple[dict, Parts]:
    """`prepare_spec`'s spec, and the parts it loaded on the way (`dataset`: the spec's data, loaded already)."""
    from promptlab.data.splits import Holdout

    if not isinstance(spec, dict):
        raise UserError("spec.not_a_mapping", kind=type(spec).__name__)
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise UserError("spec.unknown_keys", keys=", ".join(unknown), known=", ".join(SPEC_KEYS))
    for key in ("template", "data"):
        if not spec.get(key):
            raise UserError("spec.needs", key=key)
    for key in ("template", "data", "model", "train_split", "eval_split", "label_column", "name"):
        if spec.get(key) is not None and not isinstance(spec[key], str | Path):
            raise UserError("spec.not_text", key=key, kind=type(spec[key]).__name__)
    if len(spec.get("name") or "") > MAX_NAME:
        raise UserError("spec.long_name", length=len(spec["name"]), limit=MAX_NAME)
    config = spec.get("config") or {}
    config = config if isinstance(config, TuneConfig) else TuneConfig.from_dict(config)
    if spec.get("eval_size"):
        config = config.replace(eval_size=spec["eval_size"])  # validated there: a number within the limits
    out = {
        "name": spec.get("name") or "",
        "template": spec["template"],
        "data": _absolute_if_local(str(spec["data"])),
        "model": _absolute_if_local(spec.get("model") or DEFAULT_MODEL),
        "train_split": spec.get("train_split") or None,
        "eval_split": spec.get("eval_split") or None,
        "eval_size": config.eval_size,
        "label_column": spec.get("label_column") or None,
        "holdout": spec["holdout"] if "holdout" in spec else Holdout().to_dict(),  # applied to single splits only
        "config": config.to_dict(),
    }
    parts = load_parts(out, dataset)
    _check_family(out["model"], parts.template)
    out.update(train_split=parts.train_split, eval_split=parts.eval_split, label_column=parts.dataset.label_column,
               holdout=parts.holdout)
    n_train = len(parts.train_rows)
    parts.config.check_data(n_train=n_train, mode=parts.template.mode)
    out["total_steps"] = parts.config.total_steps(n_train, parts.config.num_processes)
    return out, parts


def _check_family(model_id: str, template) -> None:
    """A template the model's family cannot serve (a cloze template on a decoder-only model, ...) is refused now,
    before a worker starts (the family is read from the model's config alone)."""
    from promptlab.models.families import template_problem
    from promptlab.models.registry import model_family
    from promptlab.prompts.render import is_cloze

    problem = template_problem(model_family(model_id), mode=template.mode, cloze=is_cloze(template), model=model_id)
    if problem:
        raise UserError("template.cannot_be_scored", name=template.name, problem=problem)


def _absolute_if_local(source: str) -> str:
    """Local paths become absolute: the worker runs in the run folder, and the run must not depend on a cwd."""
    path = Path(source).expanduser()
    return str(path.resolve()) if path.exists() else source


def load_parts(spec: dict, dataset=None) -> Parts:
    """Parse the template, load the data (unless given its loaded `dataset`) and pick the splits of a (prepared)
    spec."""
    from promptlab.data.datasets import load_dataset
    from promptlab.data.sampling import sample_rows
    from promptlab.data.splits import Holdout, can_hold_out, with_holdout
    from promptlab.prompts.files import parse_template

    template = parse_template(spec["template"], "the job's template")
    config = TuneConfig.from_dict(spec["config"])
    if dataset is None:
        dataset = load_dataset(spec["data"], label_column=spec.get("label_column"))
    holdout = Holdout.from_value(spec.get("holdout"))  # checked even where it does not apply
    holdout = holdout if can_hold_out(dataset) else None
    dataset = with_holdout(dataset, holdout)
    train_split = spec.get("train_split") or dataset.default_train_split
    eval_split = spec.get("eval_split") or dataset.default_eval_split
    train = dataset.rows(train_split)
    evals = dataset.rows(eval_split)
    if template.mode == "rank" and dataset.label_column is None:
        raise UserError("spec.no_label_column", name=dataset.name)
    if dataset.label_column is not None:  # unlabelled rows teach nothing
        train = [r for r in train if r.get(dataset.label_column) not in (None, "")]
    if config.train_size:
        train = sample_rows(train, config.train_size, config.seed)
    if train_split == eval_split:
        raise UserError("spec.same_splits", split=train_split, splits=", ".join(dataset.splits))
    return Parts(template, dataset, config, train_split, eval_split, train, evals,
                 holdout.to_dict() if holdout else None)

