"""Check-in at the kiosk, as domain functions (pretix's perform_checkin is the model).

The donor's way through a kiosk, a module per step:
    scan          scan_pass / find_by_identity / register_walk_in  ->  a kiosk session (random id, no personal data)
    questionnaire answered on the phone before (answer_on_phone), or at the kiosk with the check-in
    confirm       the donor confirms the name on screen; check_in  ->  the queue number and the ticket
    terminal      which tablet asks, and its kiosk session (open_kiosk_session, close_kiosk_session)

A step decides and answers with an outcome code; the views turn codes into words. Every write runs
once per client nonce and holds SQLite's writer queue for a few Core statements only: how, is
explained once in kiosk.idempotency (`write_once`).
"""
from kiosk.checkin.confirm import CHECK_IN_ACTION, CheckinOutcome, check_in, next_queue_number, replayed_check_in
from kiosk.checkin.questionnaire import (PHONE_ANSWERS_ACTION, PhoneAnswersOutcome, answer_on_phone, answered_today,
                                         phone_answers_today, replayed_phone_answers, store_answers)
from kiosk.checkin.scan import (WALK_IN_ACTION, ScanOutcome, ScanResult, WalkIn, WalkInRefused,
                                find_by_identity, record_refused_walk_in, register_walk_in, replayed_walk_in,
                                scan_pass)
from kiosk.checkin.terminal import (ANY_TERMINAL, KIOSK_SESSION_MINUTES, Terminal, close_kiosk_session,
                                    open_kiosk_session)
from kiosk.checkin.walk_ins import (departments_for_walk_in, normalise_walk_in, proper_rank, remove_unverified_walk_ins,
                                   repair_phone, unverified_walk_ins)
from kiosk.queries.drives import TODAYS_DRIVE_ID, todays_drive_at

__all__ = [
    "ANY_TERMINAL", "CHECK_IN_ACTION", "CheckinOutcome", "KIOSK_SESSION_MINUTES", "PHONE_ANSWERS_ACTION",
    "PhoneAnswersOutcome", "ScanOutcome", "ScanResult", "TODAYS_DRIVE_ID", "Terminal", "WALK_IN_ACTION", "WalkIn",
    "WalkInRefused", "answer_on_phone", "answered_today", "check_in", "close_kiosk_session",
    "departments_for_walk_in", "find_by_identity", "next_queue_number", "normalise_walk_in", "open_kiosk_session",
    "proper_rank", "remove_unverified_walk_ins", "repair_phone", "unverified_walk_ins",
    "phone_answers_today", "record_refused_walk_in", "register_walk_in", "replayed_check_in", "replayed_phone_answers",
    "replayed_walk_in",
    "scan_pass", "store_answers", "todays_drive_at",
]
