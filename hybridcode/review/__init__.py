"""The review stage: deterministic checks, a checklist review bound to the diff, and the gate."""
