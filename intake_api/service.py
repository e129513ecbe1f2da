"""Use cases of the intake: take a petition in from any channel, store it whole,
announce it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from intake_api.attachments import AttachmentLimits, attachment_problems, safe_name
from intake_api.inference import infer_missing
from intake_api.models import ExternalTicket, Petition, PetitionAttachment, PetitionPerson
from intake_api.similarity import similarity
from shared.directory import Directory
from shared.errors import FieldError, validation_problem
from shared.events import PETITION_RECEIVED, emit
from shared.petition import PetitionBody, PetitionerIn, resolve_references
from shared.querycode import new_query_code
from shared.security import DataProtector, mask_id_number, mask_name, mask_phone
from shared.storage import Storage
from shared.timeutil import iso_china, utcnow
from shared.visibility import record_scope, registering_bureau

SERVICE = "intake"


@dataclass
class ChannelIntake:
    """What a channel contributes beyond the petition body."""

    channel: str
    received_at: datetime | None = None  # a letter's date of receipt; now otherwise
    channel_data: dict[str, Any] = field(default_factory=dict)
    registered_by: str | None = None
    # The unit of the staff member who registered it (a petition bureau registers).
    registrar_unit: str | None = None
    representatives: list[PetitionerIn] = field(default_factory=list)
    # Another system's ticket: (source_system, external_ref) makes one petition.
    external: tuple[str, str] | None = None
    # Checks the channel adds, found before anything is stored.
    problems: list[FieldError] = field(default_factory=list)
    # Letters and visits registered by staff may come without a mobile number.
    require_phone: bool = True


def find_external(session: Session, source_system: str, external_ref: str) -> Petition | None:
    ticket = session.scalar(
        select(ExternalTicket).where(
            ExternalTicket.source_system == source_system,
            ExternalTicket.external_ref == external_ref,
        )
    )
    return session.get(Petition, ticket.petition_id) if ticket else None


def _person(
    protector: DataProtector, position: int, role: str, person: PetitionerIn
) -> PetitionPerson:
    return PetitionPerson(
        position=position,
        role=role,
        name=person.name,
        id_number_enc=protector.encrypt(person.id_number) if person.id_number else None,
        id_number_hash=protector.lookup_hash(person.id_number) if person.id_number else None,
        phone_enc=protector.encrypt(person.phone) if person.phone else None,
        phone_hash=protector.lookup_hash(person.phone) if person.phone else None,
        address=person.address,
    )


def submit_petition(
    session: Session,
    *,
    body: PetitionBody,
    intake: ChannelIntake,
    directory: Directory,
    protector: DataProtector,
    storage: Storage,
    limits: AttachmentLimits,
    repeats: RepeatPolicy,
) -> Petition:
    """Validate against the directory, store the petition and its `petition.received`
    event in the caller's transaction. Raises a 422 problem naming every bad field:
    nothing is stored unless everything is right."""
    body, normalization, inferred = infer_missing(body, directory)
    resolved, problems = resolve_references(body, directory, require_phone=intake.require_phone)
    problems = once_per_field(
        intake.problems + inferred + problems + attachment_problems(body.attachments, limits)
    )
    if problems:
        raise validation_problem(problems)
    assert body.division_code is not None and body.category is not None
    petition = Petition(
        id=str(uuid.uuid4()),
        query_code=new_query_code(),
        channel=intake.channel,
        received_at=intake.received_at or utcnow(),
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
        channel_data=intake.channel_data,
        registered_by=intake.registered_by,
        normalization=normalization,
    )
    for i, person in enumerate(body.petitioners):
        petition.people.append(_person(protector, i, "petitioner", person))
    offset = len(body.petitioners)
    for i, person in enumerate(intake.representatives):
        petition.people.append(_person(protector, offset + i, "representative", person))
    for i, att in enumerate(body.attachments):
        data = att.data()
        # Blobs are written before the row that names them commits: a failed commit
        # leaves an unreferenced blob, never a row without its bytes.
        key = storage.put(data)
        petition.attachments.append(
            PetitionAttachment(
                position=i,
                name=safe_name(att.name),
                content_type=att.content_type.lower(),
                size=len(data),
                sha256=key,
                storage_key=key,
            )
        )
    earlier = find_repeat(session, petition, identity_hashes(protector, body.petitioners), repeats)
    if earlier is not None:
        petition.repeat_of = earlier.repeat_of or earlier.id
        normalization["repeat_of"] = {
            "petition_id": petition.repeat_of,
            "explanation": f"同一信访人此前就同一类别、同一地方提出过相似的信访事项（{earlier.query_code}）",
        }
    session.add(petition)
    session.flush()  # the petition row first: the ticket refers to it
    # Who may see it is settled before anyone can read it, in the same transaction.
    scope = record_scope(
        session,
        petition_id=petition.id,
        type=petition.type,
        division_code=petition.division_code,
        accused=petition.accused,
        registered_unit=registering_bureau(
            directory,
            registrar_unit=intake.registrar_unit,
            addressed_to=petition.addressed_to,
            division_code=petition.division_code,
        ),
        source_system=intake.external[0] if intake.external else None,
        external_ref=intake.external[1] if intake.external else None,
        directory=directory,
    )
    if intake.external is not None:
        session.add(
            ExternalTicket(
                source_system=intake.external[0],
                external_ref=intake.external[1],
                petition_id=petition.id,
            )
        )
    emit(
        session,
        type=PETITION_RECEIVED,
        service=SERVICE,
        subject=petition.id,
        data={**received_payload(petition, body, intake), "accused_unit": scope.accused_unit},
    )
    return petition


def once_per_field(problems: list[FieldError]) -> list[FieldError]:
    """The first problem found for each field: a field is not told off twice."""
    seen: set[str] = set()
    out = []
    for problem in problems:
        if problem["field"] not in seen:
            seen.add(problem["field"])
            out.append(problem)
    return out


@dataclass(frozen=True)
class RepeatPolicy:
    threshold: float
    candidates: int


def identity_hashes(protector: DataProtector, people: list[PetitionerIn]) -> set[str]:
    """Every stored hash the people's phones and ID numbers may have, under any live key."""
    values = {v for p in people for v in (p.phone, p.id_number) if v}
    return {h for v in values for h in protector.lookup_hashes(v)}


def find_repeat(
    session: Session, petition: Petition, hashes: set[str], policy: RepeatPolicy
) -> Petition | None:
    """The most recent earlier petition by one of the same people (ID number or phone),
    in the same category and place, whose text is alike."""
    if not hashes:
        return None
    people = PetitionPerson
    earlier = session.scalars(
        select(Petition)
        .join(people, people.petition_id == Petition.id)
        .where(
            Petition.category == petition.category,
            Petition.division_code == petition.division_code,
            or_(people.phone_hash.in_(hashes), people.id_number_hash.in_(hashes)),
        )
        .order_by(Petition.received_at.desc())
        .limit(policy.candidates)
    ).unique()
    text = f"{petition.title}\n{petition.content}"
    for candidate in earlier:
        if similarity(text, f"{candidate.title}\n{candidate.content}") >= policy.threshold:
            return candidate
    return None


def _masked(person: PetitionerIn) -> dict[str, Any]:
    return {
        "name": mask_name(person.name),
        "phone": mask_phone(person.phone),
        "id_number": mask_id_number(person.id_number),
    }


def received_payload(
    petition: Petition, body: PetitionBody, intake: ChannelIntake
) -> dict[str, Any]:
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
        "repeat_of": petition.repeat_of,
        "normalization": petition.normalization,
        # Encrypted values stay in the intake; the bus carries only masked ones.
        "channel_data": {k: v for k, v in intake.channel_data.items() if not k.endswith("_enc")},
        "registered_by": intake.registered_by,
        "petitioners": [_masked(p) for p in body.petitioners],
        # Keyed hashes let casework check a petitioner's phone without holding it.
        "phone_hashes": [p.phone_hash for p in petition.people if p.phone_hash],
        # Sealed (AES-GCM) for the notify gateway, which holds the key, to text them.
        "sealed_phones": [p.phone_enc for p in petition.people if p.phone_enc],
        "representatives": [_masked(p) for p in intake.representatives],
        "attachments": [
            {"name": a.name, "content_type": a.content_type, "size": a.size, "sha256": a.sha256}
            for a in petition.attachments
        ],
    }
