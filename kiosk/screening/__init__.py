"""Screening a donor: the questionnaire, the rules and the engine that applies them, the engine's
reasons in words, and the nurse's decisions that record the outcome.

- questionnaire: the same-day health questions (a versioned data file) and answer checks.
- rules: every threshold, loaded from kiosk/data/screening_rules.json with per-site overrides.
- engine: suggest(): facts, answers and vitals in, a suggestion with cited reasons out.
- messages: the engine's reason codes as sentences in the user's language.
- decisions: the nurse's decision, correction and void as domain functions (nonces, audit, tally).
"""
