"""Screening a donor: the questionnaire, the rules and the engine that applies them, the engine's
reasons in words, and the nurse's decisions that record the outcome.

- questionnaire: the same-day health questions (a versioned data file) and answer checks.
- rules: every threshold, loaded from kiosk/data/screening_rules.json with per-site overrides.
- engine: suggest(): facts, answers and vitals in, a suggestion with cited reasons out.
- messages: the engine's reason codes as sentences in the user's language.
- desk: what the nurse's desk shows about a visit (its suggestion, answers, flags, last donation,
  records and history).
- decisions: the nurse's decision, correction and void as domain functions (nonces, audit, tally);
  a decision works out its own suggestion (desk.suggestion_for) to check an override against.
"""
