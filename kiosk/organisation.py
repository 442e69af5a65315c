"""Sites and the department tree: listing, creating and editing them (the console's writes, as
domain functions: each checks, applies, audits and commits, or raises OrganisationError with a
machine-readable code that the views translate)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session, scoped_session

from kiosk.database import write_transaction
from kiosk.errors import DomainError
from kiosk.audit import changed_fields, fingerprint, record_audit, record_changes
from kiosk.models import Department, Site

ERROR_CODES = ("not_found", "changed_meanwhile", "code_taken", "name_taken", "part_of_itself")


class OrganisationError(DomainError):
    CODES = ERROR_CODES


# ---------------------------------------------------------------- sites

def site_values(site: Site) -> dict[str, Any]:
    return {"code": site.code, "name": site.name, "address": site.address}


def site_fingerprint(site: Site) -> str:
    return fingerprint(site_values(site))


def normal_site_code(code: str) -> str:
    return code.strip().upper()


def _site_code_taken(session: Session, code: str, except_id: Optional[int] = None) -> bool:
    query = sa.select(Site.id).where(Site.code == code)
    if except_id is not None:
        query = query.where(Site.id != except_id)
    return session.scalars(query.limit(1)).first() is not None


def create_site(session: Session | scoped_session, *, staff_id: int, code: str, name: str,
                address: str = "") -> int:
    """Add a site, and commit. Returns its id; `code_taken` if another site has the code."""
    code = normal_site_code(code)
    with write_transaction(session):
        if _site_code_taken(session, code):
            raise OrganisationError("code_taken")
        site = Site(code=code, name=name.strip(), address=(address or "").strip())
        session.add(site)
        session.flush()
        record_audit(session, "site_created", staff_id=staff_id, entity="site", entity_id=site.id,
                     new=site_values(site))
        site_id = site.id
    return site_id


def update_site(session: Session | scoped_session, *, site_id: int, staff_id: int, expected_fingerprint: str,
                code: str, name: str, address: str = "") -> frozenset[str]:
    """Change a site as its form showed it, and commit. Returns the names of the changed fields."""
    code = normal_site_code(code)
    with write_transaction(session):
        site = session.get(Site, site_id)
        if site is None:
            raise OrganisationError("not_found")
        old = site_values(site)
        if fingerprint(old) != expected_fingerprint:
            raise OrganisationError("changed_meanwhile")
        if _site_code_taken(session, code, except_id=site.id):
            raise OrganisationError("code_taken")
        site.code, site.name, site.address = code, name.strip(), (address or "").strip()
        new = site_values(site)
        changed = changed_fields(old, new)
        if changed:
            record_changes(session, "site_updated", staff_id=staff_id, entity="site", entity_id=site.id,
                           old=old, new=new, changed=changed)
    return changed


# ---------------------------------------------------------------- departments

def department_values(department: Department) -> dict[str, Any]:
    """A department as its audit entries and its fingerprint see it (0 for 'none')."""
    return {"name": department.name, "parent_id": department.parent_id or 0,
            "default_site_id": department.default_site_id or 0,
            "arrival_start": f"{department.arrival_start:%H:%M}" if department.arrival_start else "",
            "arrival_end": f"{department.arrival_end:%H:%M}" if department.arrival_end else ""}


def department_fingerprint(department: Department) -> str:
    return fingerprint(department_values(department))


def normal_department_name(name: str) -> str:
    return " ".join(name.split())


def department_tree(session: Session) -> list[tuple[Department, int]]:
    """Every department with its depth, each under its parent, by name."""
    everyone = list(session.scalars(sa.select(Department).order_by(Department.name)))
    children: dict[Optional[int], list[Department]] = {}
    for department in everyone:
        children.setdefault(department.parent_id, []).append(department)
    ordered: list[tuple[Department, int]] = []
    seen: set[int] = set()

    def walk(parent_id: Optional[int], depth: int) -> None:
        for department in children.get(parent_id, []):
            if department.id in seen:
                continue
            seen.add(department.id)
            ordered.append((department, depth))
            walk(department.id, depth + 1)

    walk(None, 0)
    ordered.extend((d, 0) for d in everyone if d.id not in seen)  # a cycle made elsewhere still shows
    return ordered


def descendants(session: Session, department_id: int) -> set[int]:
    """The ids of every department under this one, however deep."""
    found: set[int] = set()
    frontier = {department_id}
    while frontier:
        frontier = set(session.scalars(sa.select(Department.id).where(Department.parent_id.in_(frontier)))) - found
        found |= frontier
    return found


def _department_name_taken(session: Session, name: str, except_id: Optional[int] = None) -> bool:
    query = sa.select(Department.id).where(Department.name == name)
    if except_id is not None:
        query = query.where(Department.id != except_id)
    return session.scalars(query.limit(1)).first() is not None


def create_department(session: Session | scoped_session, *, staff_id: int, name: str,
                      parent_id: Optional[int] = None, default_site_id: Optional[int] = None) -> int:
    """Add a department, and commit. Returns its id; `name_taken` if another has the name."""
    name = normal_department_name(name)
    with write_transaction(session):
        if _department_name_taken(session, name):
            raise OrganisationError("name_taken")
        department = Department(name=name, parent_id=parent_id or None, default_site_id=default_site_id or None)
        session.add(department)
        session.flush()
        record_audit(session, "department_created", staff_id=staff_id, entity="department",
                     entity_id=department.id, new=department_values(department))
        department_id = department.id
    return department_id


def update_department(session: Session | scoped_session, *, department_id: int, staff_id: int,
                      expected_fingerprint: str, name: str, parent_id: Optional[int] = None,
                      default_site_id: Optional[int] = None,
                      arrival: Optional[tuple[Optional[dt.time], Optional[dt.time]]] = None) -> frozenset[str]:
    """Change a department as its form showed it, and commit. Returns the names of the changed
    fields; `part_of_itself` if it would go under itself or one of its own descendants."""
    name = normal_department_name(name)
    with write_transaction(session):
        department = session.get(Department, department_id)
        if department is None:
            raise OrganisationError("not_found")
        old = department_values(department)
        if fingerprint(old) != expected_fingerprint:
            raise OrganisationError("changed_meanwhile")
        if _department_name_taken(session, name, except_id=department.id):
            raise OrganisationError("name_taken")
        if parent_id and parent_id in descendants(session, department.id) | {department.id}:
            raise OrganisationError("part_of_itself")
        department.name = name
        department.parent_id = parent_id or None
        department.default_site_id = default_site_id or None
        if arrival is not None:  # None: the caller does not show it, keep it
            department.arrival_start, department.arrival_end = arrival
        new = department_values(department)
        changed = changed_fields(old, new)
        if changed:
            record_changes(session, "department_updated", staff_id=staff_id, entity="department",
                           entity_id=department.id, old=old, new=new, changed=changed)
    return changed
