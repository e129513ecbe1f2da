"""Use cases of the intake: take a petition in, store it whole, announce it."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy.orm import Session

from intake_api.models import Petition, PetitionAttachment, PetitionPerson
from intake_api.querycode import new_query_code
from shared.directory import Directory
from shared.errors import validation_problem
from shared.events import PETITION_RECEIVED, emit
from shared.petition import PetitionBody, resolve_references
from shared.security import DataProtector, mask_id_number, mask_name, mask_phone
from shared.timeutil import iso_china, utcnow

SERVICE = "intake"


def submit_petition(
    session: Session,
    *,
    body: PetitionBody,
    directory: Directory,
    protector: DataProtector,
) -> Petition:
    """Validate against the directory, store the petition and its `petition.received`
    event in the caller's transaction. Raises a 422 problem naming every bad field."""
    resolved, problems = resolve_references(body, directory)
    if problems:
        raise validation_problem(problems)
    assert body.division_code is not None and body.category is not None
    petition = Petition(
        id=str(uuid.uuid4()),
        query_code=new_query_code(),
        channel=body.channel,
        received_at=utcnow(),
        title=body.title,
        content=body.content,
        type=resolved["type"],
        category=body.category,
        division_code=body.division_code,
        address=body.address,
        addressed_to=resolved["addressed_to"],
        people_count=max(body.people_count, len(body.petitioners)),
        anonymous=body.anonymous,
        accused=body.accused.model_dump() if body.accused else None,
        prior=body.prior.model_dump(mode="json") if body.prior else None,
        openid=body.openid,
    )
    for i, person in enumerate(body.petitioners):
        petition.people.append(
            PetitionPerson(
                position=i,
                name=person.name,
                id_number_enc=protector.encrypt(person.id_number) if person.id_number else None,
                id_number_hash=protector.lookup_hash(person.id_number)
                if person.id_number
                else None,
                phone_enc=protector.encrypt(person.phone) if person.phone else None,
                phone_hash=protector.lookup_hash(person.phone) if person.phone else None,
                address=person.address,
            )
        )
    for i, att in enumerate(body.attachments):
        data = att.data()
        petition.attachments.append(
            PetitionAttachment(
                position=i,
                name=att.name,
                content_type=att.content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                data=data,
            )
        )
    session.add(petition)
    emit(
        session,
        type=PETITION_RECEIVED,
        service=SERVICE,
        subject=petition.id,
        data=received_payload(petition, body),
    )
    return petition


def received_payload(petition: Petition, body: PetitionBody) -> dict[str, Any]:
    """What other services learn of a new petition. Personal data only masked:
    the bus is not a place for ID numbers and phones."""
    return {
        "petition_id": petition.id,
        "query_code": petition.query_code,
        "channel": petition.channel,
        "received_at": iso_china(petition.received_at),
        "title": petition.title,
        "content": petition.content,
        "type": petition.type,
        "category": petition.category,
        "division_code": petition.division_code,
        "address": petition.address,
        "addressed_to": petition.addressed_to,
        "people_count": petition.people_count,
        "anonymous": petition.anonymous,
        "accused": petition.accused,
        "prior": petition.prior,
        "petitioners": [
            {
                "name": mask_name(p.name),
                "phone": mask_phone(p.phone),
                "id_number": mask_id_number(p.id_number),
            }
            for p in body.petitioners
        ],
        "attachments": [
            {"name": a.name, "content_type": a.content_type, "size": a.size, "sha256": a.sha256}
            for a in petition.attachments
        ],
    }
