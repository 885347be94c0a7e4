"""Run folders are the database of tuning jobs: their layout and atomic writers, the store (create, list, read,
delete, names and notes), the queue (slots, liveness, launch, cancel, resume), export and the model card of an
exported adapter (`card`). No torch; never imports tuning."""
