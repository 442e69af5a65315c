"""Write the questionnaire's table of waits into README.md (between its rules-table markers),
from the current questionnaire file: python tools/rules_table.py"""
from pathlib import Path

from kiosk.screening.questionnaire import load_questionnaire
from kiosk.screening.rules_table import markdown, replaced

README = Path(__file__).resolve().parent.parent / "README.md"

if __name__ == "__main__":
    README.write_text(replaced(README.read_text(encoding="utf-8"), markdown(load_questionnaire())), encoding="utf-8")
