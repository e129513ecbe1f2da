"""After a key rotation: re-encrypt and re-hash the intake's personal data under the
current key, and tell casework the new phone hashes its tracking checks against."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_api.models import Petition
from shared.events import IDENTITY_REKEYED, emit
from shared.security import DataProtector

SERVICE = "intake"


def reencrypt(session: Session, protector: DataProtector, *, batch: int = 500) -> int:
    """Bring every petition sealed under an earlier key to the current one; returns
    how many petitions changed. Safe to run again: current rows are left alone."""
    changed = 0
    for petition in session.scalars(select(Petition).execution_options(yield_per=batch)):
        touched = False
        for person in petition.people:
            for enc, digest in (("id_number_enc", "id_number_hash"), ("phone_enc", "phone_hash")):
                sealed = getattr(person, enc)
                if sealed and not protector.is_current(sealed):
                    plain = protector.decrypt(sealed)
                    setattr(person, enc, protector.encrypt(plain))
                    setattr(person, digest, protector.lookup_hash(plain))
                    touched = True
        data = dict(petition.channel_data or {})
        caller = data.get("caller_phone_enc")
        if caller and not protector.is_current(caller):
            data["caller_phone_enc"] = protector.encrypt(protector.decrypt(caller))
            petition.channel_data = data
            touched = True
        if touched:
            changed += 1
            emit(
                session,
                type=IDENTITY_REKEYED,
                service=SERVICE,
                subject=petition.id,
                data={
                    "petition_id": petition.id,
                    "phone_hashes": [p.phone_hash for p in petition.people if p.phone_hash],
                    "sealed_phones": [p.phone_enc for p in petition.people if p.phone_enc],
                },
            )
    return changed
