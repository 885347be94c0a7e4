"""Soft-prompt tuning: the config (TuneConfig), the PEFT methods, the job spec, the training loop, checkpoints,
the manual-prompt baselines and the job worker. `config` and `spec` import no torch, so the web app and the CLI
can validate a job cheaply; only `methods`, `loop`, `checkpoint` and `worker` need it."""
