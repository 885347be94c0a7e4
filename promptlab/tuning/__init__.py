"""Soft-prompt tuning: the config (TuneConfig), the PEFT methods, the job spec, the training loop, checkpoints,
the manual-prompt baselines (measured once and reused: `baseline_cache`), duration estimates (`estimate`) and the
job worker. `config`, `spec`, `baseline_cache` and `estimate` import no torch, so the web app and the CLI can
validate and estimate a job cheaply; only `methods`, `loop`, `checkpoint` and `worker` need it."""
