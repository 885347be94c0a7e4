"""Run folders are the database of tuning jobs: their layout and atomic writers, the store (create, list, read,
delete), the queue (slots, liveness, launch, cancel, resume) and export. No torch; never imports tuning."""
