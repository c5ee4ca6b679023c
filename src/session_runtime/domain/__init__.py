"""The pure core: models, rules, merge, state machine, query keys and errors. No I/O here."""
