"""A demo drive that looks like a real one: two sites, six departments, 200 donors, two staff."""
from __future__ import annotations

import datetime as dt
import random
import secrets
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kiosk.auth import hash_password
from kiosk.models import Department, Drive, DriveStatus, Site, Staff, StaffRole
from kiosk.roster.parser import DonorRow, ParsedRoster
from kiosk.roster.importer import import_roster

DRIVE_NAME = "Hành trình Đỏ 2026 – Giọt máu nghĩa tình vì đồng đội thân yêu"
HOSPITAL = "Bệnh viện 19-8, Bộ Công an"
SITES = (
    ("XNC", "Hội trường Cục Quản lý xuất nhập cảnh", "44-46 Trần Phú, Ba Đình, Hà Nội"),
    ("CSCD", "Hội trường Bộ Tư lệnh Cảnh sát cơ động", "Km 11 Quốc lộ 1A, Thanh Trì, Hà Nội"),
)
# Department -> the site its officers donate at.
DEPARTMENTS = (
    ("Cục Quản lý xuất nhập cảnh", "XNC"),
    ("Phòng Quản lý xuất nhập cảnh - Công an TP Hà Nội", "XNC"),
    ("Văn phòng Bộ Công an", "XNC"),
    ("Bộ Tư lệnh Cảnh sát cơ động", "CSCD"),
    ("Cục Cảnh sát giao thông", "CSCD"),
    ("Cục Kỹ thuật nghiệp vụ", "CSCD"),
)
SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
            "Hồ", "Ngô", "Dương", "Lý")
MIDDLE = {"M": ("Văn", "Đức", "Quốc", "Minh", "Công", "Thành", "Hữu", "Xuân"),
          "F": ("Thị", "Thu", "Ngọc", "Thanh", "Mỹ", "Hồng", "Phương", "Bích")}
GIVEN = {"M": ("Hùng", "Dũng", "Sơn", "Tuấn", "Long", "Nam", "Quân", "Hải", "Khánh", "Phúc", "Thắng", "Trung",
               "Cường", "Đạt", "Hiếu", "Tùng"),
         "F": ("Hương", "Lan", "Hà", "Linh", "Trang", "Nhung", "Thảo", "Mai", "Ngân", "Yến", "Hạnh", "Loan")}
RANKS = ("Thiếu úy", "Trung úy", "Thượng úy", "Đại úy", "Thiếu tá", "Trung tá", "Thượng tá")
BLOOD_GROUPS = ("O+", "O+", "A+", "B+", "B+", "AB+", "")
DONOR_COUNT = 200
CREDENTIALS_FILE = "demo_accounts.txt"


def demo_rows(drive_date: dt.date, count: int = DONOR_COUNT, seed: int = 2026) -> list[DonorRow]:
    rng = random.Random(seed)
    rows, used_ids = [], set()
    for line in range(2, count + 2):
        sex = "F" if rng.random() < 0.3 else "M"
        name = f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"
        age_days = rng.randint(19 * 365, 55 * 365)
        id_number = f"0{rng.randint(1, 96):02d}{rng.randint(0, 999_999_999):09d}"
        while id_number in used_ids:
            id_number = f"0{rng.randint(1, 96):02d}{rng.randint(0, 999_999_999):09d}"
        used_ids.add(id_number)
        last = None
        if rng.random() < 0.4:
            last = drive_date - dt.timedelta(days=rng.randint(60, 900))
        rows.append(DonorRow(
            line=line, full_name=name, date_of_birth=drive_date - dt.timedelta(days=age_days), sex=sex,
            id_number=id_number, phone=f"0{rng.choice('3579')}{rng.randint(0, 99_999_999):08d}",
            department=DEPARTMENTS[rng.randrange(len(DEPARTMENTS))][0], rank=rng.choice(RANKS),
            blood_group=rng.choice(BLOOD_GROUPS), last_donation=last,
        ))
    return rows


def load_demo(session: Session, instance_path: str, drive_date: dt.date) -> dict[str, str]:
    """Create the demo drive, open on `drive_date`. Returns the staff accounts' passwords."""
    sites = {}
    for code, name, address in SITES:
        sites[code] = Site(code=code, name=name, address=address)
        session.add(sites[code])
    drive = Drive(name=DRIVE_NAME, drive_date=drive_date, target_bags=200, status=DriveStatus.OPEN,
                  hospital=HOSPITAL, organiser="Cục Quản lý xuất nhập cảnh", sites=list(sites.values()))
    session.add(drive)
    session.flush()
    for name, code in DEPARTMENTS:
        session.add(Department(name=name, default_site_id=sites[code].id))
    session.flush()
    import_roster(session, ParsedRoster(rows=demo_rows(drive_date)), drive=drive)

    passwords = {}
    for username, display_name, role in (("yta", "Y tá Nguyễn Thị Hạnh", StaffRole.NURSE),
                                          ("bantochuc", "Ban tổ chức – Trần Quốc Tuấn", StaffRole.ORGANISER)):
        password = secrets.token_urlsafe(9)
        passwords[username] = password
        session.add(Staff(username=username, display_name=display_name, role=role,
                          password_hash=hash_password(password)))
    session.flush()
    path = Path(instance_path) / CREDENTIALS_FILE
    path.write_text("".join(f"{u} {p}\n" for u, p in passwords.items()))
    path.chmod(0o600)
    return passwords


def demo_credentials(instance_path: str) -> dict[str, str]:
    path = Path(instance_path) / CREDENTIALS_FILE
    if not path.exists():
        return {}
    return dict(line.split(" ", 1) for line in path.read_text().splitlines() if " " in line)


def database_is_empty(session: Session) -> bool:
    return session.scalar(sa.select(sa.func.count()).select_from(Drive)) == 0
