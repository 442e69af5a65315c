"""Sites and the department tree as domain functions: unique codes and names, the fingerprint
check, no department under itself, the tree listing, and the audit entries."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import AuditLog, Department, Site, Staff, StaffRole
from kiosk.organisation import (OrganisationError, create_department, create_site, department_fingerprint,
                                department_tree, descendants, site_fingerprint, update_department, update_site)


@pytest.fixture
def organiser_id(app_ctx, demo) -> int:
    return db.session.scalars(sa.select(Staff.id).where(Staff.role == StaffRole.ORGANISER)).first()


def entries(entity: str, entity_id: int) -> list[AuditLog]:
    return list(db.session.scalars(sa.select(AuditLog).where(AuditLog.entity == entity, AuditLog.entity_id == entity_id)
                                   .order_by(AuditLog.id)))


def outcome(call, **kwargs) -> str:
    with pytest.raises(OrganisationError) as raised:
        call(db.session, **kwargs)
    return raised.value.code


# ---------------------------------------------------------------- sites

def test_a_site_code_is_upper_case_and_unique(organiser_id):
    site_id = create_site(db.session, staff_id=organiser_id, code=" pc08 ", name=" Hội trường PC08 ")
    site = db.session.get(Site, site_id)
    assert (site.code, site.name, site.address) == ("PC08", "Hội trường PC08", "")
    [entry] = entries("site", site_id)
    assert entry.action == "site_created" and entry.new_values == {"code": "PC08", "name": "Hội trường PC08",
                                                                   "address": ""}
    assert outcome(create_site, staff_id=organiser_id, code="Pc08", name="Trùng") == "code_taken"
    other = db.session.scalars(sa.select(Site).where(Site.code == "XNC")).one()
    assert outcome(update_site, site_id=other.id, staff_id=organiser_id, expected_fingerprint=site_fingerprint(other),
                   code="pc08", name=other.name) == "code_taken"


def test_a_site_edit_is_audited_and_refused_when_stale(organiser_id):
    site = db.session.scalars(sa.select(Site).where(Site.code == "XNC")).one()
    site_id, stale, address = site.id, site_fingerprint(site), site.address
    changed = update_site(db.session, site_id=site_id, staff_id=organiser_id, expected_fingerprint=stale,
                          code="xnc", name="Hội trường A", address=f" {address} ")
    assert changed == {"name"}
    [entry] = entries("site", site_id)
    assert entry.action == "site_updated" and entry.new_values == {"name": "Hội trường A"}
    assert outcome(update_site, site_id=site_id, staff_id=organiser_id, expected_fingerprint=stale, code="XNC",
                   name="Hội trường B") == "changed_meanwhile"
    assert db.session.get(Site, site_id).name == "Hội trường A"
    assert outcome(update_site, site_id=999, staff_id=organiser_id, expected_fingerprint=stale, code="X",
                   name="x") == "not_found"


# ---------------------------------------------------------------- departments

def test_departments_nest_and_list_as_a_tree(organiser_id):
    top = db.session.get(Department, 1)
    child = create_department(db.session, staff_id=organiser_id, name="  Phòng   Hậu cần ", parent_id=top.id)
    grandchild = create_department(db.session, staff_id=organiser_id, name="Đội Xe", parent_id=child,
                                   default_site_id=0)
    assert db.session.get(Department, child).name == "Phòng Hậu cần"
    assert db.session.get(Department, grandchild).default_site_id is None
    assert descendants(db.session, top.id) >= {child, grandchild}
    assert descendants(db.session, grandchild) == set()
    depth = {d.id: level for d, level in department_tree(db.session)}
    assert depth[child] == depth[top.id] + 1 and depth[grandchild] == depth[top.id] + 2
    assert len(depth) == db.session.scalar(sa.select(sa.func.count(Department.id)))
    [entry] = entries("department", child)
    assert entry.action == "department_created"
    assert entry.new_values == {"name": "Phòng Hậu cần", "parent_id": top.id, "default_site_id": 0,
                                 "arrival_start": "", "arrival_end": ""}
    assert outcome(create_department, staff_id=organiser_id, name="Phòng Hậu cần") == "name_taken"


def test_a_department_is_never_part_of_itself(organiser_id):
    top = db.session.get(Department, 1)
    child = create_department(db.session, staff_id=organiser_id, name="Phòng Hậu cần", parent_id=top.id)
    grandchild = create_department(db.session, staff_id=organiser_id, name="Đội Xe", parent_id=child)
    for parent in (top.id, child, grandchild):
        assert outcome(update_department, department_id=top.id, staff_id=organiser_id,
                       expected_fingerprint=department_fingerprint(top), name=top.name,
                       parent_id=parent) == "part_of_itself"
    assert db.session.get(Department, top.id).parent_id is None


def test_a_department_edit_is_audited_and_refused_when_stale_or_taken(organiser_id):
    first, second = db.session.scalars(sa.select(Department).order_by(Department.id).limit(2)).all()
    first_id, stale, site_id = first.id, department_fingerprint(first), first.default_site_id
    assert outcome(update_department, department_id=first_id, staff_id=organiser_id, expected_fingerprint=stale,
                   name=second.name) == "name_taken"
    changed = update_department(db.session, department_id=first_id, staff_id=organiser_id,
                                expected_fingerprint=stale, name=first.name, parent_id=second.id,
                                default_site_id=site_id)
    assert changed == {"parent_id"}
    [entry] = entries("department", first_id)
    assert entry.action == "department_updated"
    assert (entry.old_values, entry.new_values) == ({"parent_id": 0}, {"parent_id": second.id})
    assert outcome(update_department, department_id=first_id, staff_id=organiser_id, expected_fingerprint=stale,
                   name="Khác") == "changed_meanwhile"
    assert outcome(update_department, department_id=999, staff_id=organiser_id, expected_fingerprint=stale,
                   name="Khác") == "not_found"
